// Starts the relay from the tsc output (dist/cli/bin.js) instead of the esbuild bundle that
// bin/ai-relay.js prefers: same code, but a CPU profile can then attribute time to undici,
// pino, zod… and to the relay's own files. Used by --profile only.
import { main } from '../../dist/cli/bin.js';

main(process.argv).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
