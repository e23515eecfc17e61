/**
 * Entry of the single executable (scripts/build-binary.mjs bundles this file to one CommonJS
 * script for Node's SEA). The same main() as bin/ai-relay.js; only the exit code is set here,
 * so pending log writes and stream drains finish before the process ends.
 */
import cluster from 'node:cluster';
import { main } from './bin.js';

main(seaArgv(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ai-relay: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);

/**
 * `serve --workers N` forks with cluster, which re-runs execPath with argv[1..] as arguments.
 * For a script that is right; for a SEA, Node puts the executable in front once more, so a
 * worker sees [exe, exe, './ai-relay', 'serve', …]. Drop the extra entry (verified on 20.20).
 */
function seaArgv(argv: string[]): string[] {
  if (cluster.isWorker && argv.length > 2 && argv[1] === process.execPath) return [argv[0]!, ...argv.slice(2)];
  return argv;
}
