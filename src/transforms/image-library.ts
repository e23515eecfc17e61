/**
 * sharp for png-to-jpeg: one handle for every route and every route table of the process.
 * Compiling a route does not load it (sharp's JavaScript, its native addon and libvips cost
 * 35–85 ms of CPU that the first `/health` need not wait for): a running relay starts the load
 * once it listens (image-warmup.ts), and a conversion that comes first starts it itself. A response that
 * needs sharp while it loads waits for it. `check` awaits it while compiling, so a missing image
 * library still fails the check (compileTransforms' `loadImageLibrary`).
 *
 * A failure is kept for the life of the process (its fixes, installing sharp's platform package
 * or pointing AI_RELAY_CACHE_DIR elsewhere, need a restart anyway): routes with png-to-jpeg then
 * answer 503 `route_disabled` (handle.ts), and readyPath shows the cause (`imageLibraryProblem`).
 */
import { loadSharp, type SharpFn } from '../native/sharp-loader.js';

let loading: Promise<SharpFn> | undefined;
let failure: Error | undefined;

/** sharp, tuned for the relay; the first call starts loading it. Rejects with the cause when it cannot load. */
export function imageLibrary(): Promise<SharpFn> {
  if (!loading) {
    loading = loadSharp().then((sharp) => {
      // Before the first conversion, once: one libvips thread per image and no operation cache.
      // Parallelism comes from the process-wide slot count instead (semaphore.ts), so memory and
      // CPU stay bounded on a small VPS.
      sharp.concurrency(1);
      sharp.cache(false);
      return sharp;
    });
    // Registered first, so `failure` is set before any awaiting caller runs; also marks the
    // promise handled: a relay nobody asked for an image must not die of an unhandled rejection.
    loading.catch((err: unknown) => {
      failure = err instanceof Error ? err : new Error(String(err));
    });
  }
  return loading;
}

/** The load's error once it failed; undefined while loading, loaded, or not asked for. */
export function imageLibraryFailure(): Error | undefined {
  return failure;
}

/**
 * Why png-to-jpeg cannot run, for readyPath and the route's 503; undefined unless sharp failed
 * to load. One line: sharp's own message continues with install advice that belongs in the log.
 */
export function imageLibraryProblem(): string | undefined {
  return failure ? `png-to-jpeg cannot run: the image library (sharp/libvips) failed to load: ${summary(failure)}` : undefined;
}

/** The lines of an error message before sharp's "Possible solutions:", joined into one. */
export function summary(err: Error): string {
  const lines: string[] = [];
  for (const line of err.message.split('\n')) {
    if (/^possible solutions/i.test(line.trim())) break;
    if (line.trim()) lines.push(line.trim());
  }
  return lines.join(': ') || err.name;
}
