/**
 * Entry of the single executable (scripts/build-binary.mjs bundles this file to one CommonJS
 * script for Node's SEA). The same main() as bin/ai-relay.js; only the exit code is set here,
 * so pending log writes and stream drains finish before the process ends.
 */
import { main } from './bin.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ai-relay: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
