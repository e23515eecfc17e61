/**
 * `import()` of a file outside the bundle (a transform plugin), from every build.
 *
 * The single executable runs its bundle from V8's code cache (scripts/build-binary.mjs,
 * `useCodeCache`), and Node compiles a code-cached SEA main script without a dynamic-import
 * callback: a plain `import()` there throws "A dynamic import callback was not specified". A
 * function compiled by node:vm with Node's own default loader has one, so the binary imports
 * through it. Everywhere else a plain `import()` is used.
 *
 * Node 20 flags that loader constant as experimental and would print an ExperimentalWarning on
 * every start with a plugin; exactly that one warning is kept quiet, nothing else.
 */
import vm from 'node:vm';
import { runningInSea } from '../native/embedded-sharp.js';

let viaDefaultLoader: ((specifier: string) => Promise<unknown>) | undefined;

export function importFile(url: string): Promise<unknown> {
  if (!runningInSea()) return import(url);
  // Node warns when the function is compiled and when its import() first runs (synchronously).
  return quietly(() => {
    viaDefaultLoader ??= new vm.Script('(specifier) => import(specifier)', {
      filename: 'ai-relay:import-file',
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }).runInThisContext() as (specifier: string) => Promise<unknown>;
    return viaDefaultLoader(url);
  });
}

function quietly<T>(fn: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emitWarning;
  }
}
