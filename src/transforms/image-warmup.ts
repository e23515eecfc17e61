/**
 * When a running relay loads sharp (image-library.ts): once it listens, not before. sharp's
 * JavaScript, its native addon and libvips cost 35–85 ms of CPU the first /health need not wait
 * for. The load starts on the turn after the first accepted request, or LOAD_DELAY ms after
 * listening if none came: the first request after a start is usually a health check (a
 * supervisor, a load balancer, the bench), and the load is ~20–25 ms of synchronous work in the
 * single executable (require + dlopen) that would hold its answer back. A response that needs
 * sharp waits for it.
 */
import type { Logger } from '../log/logger.js';
import type { RouteTable } from '../routing/table.js';
import { imageLibrary, imageLibraryFailure, summary } from './image-library.js';

/**
 * With no request before it, sharp starts loading this long after the relay listens: long enough
 * for a health check sent at once to be answered first, short enough that sharp is loaded (or its
 * failure shows in readyPath) long before any realistic first image.
 */
const LOAD_DELAY = 50;

export interface ImageWarmup {
  /** Set while the load waits for the first request; that request calls it (one check per request otherwise). */
  onFirstRequest: (() => void) | undefined;
  /** A route table went live (the first, or a reload's): loads sharp if it has png-to-jpeg routes; a failure is logged once per table, naming its routes. */
  watch(table: RouteTable): void;
}

/** `current()` is the live table (whose routes a late failure names); `stopped()` is true once the relay shuts down. */
export function imageWarmup(log: Logger, current: () => RouteTable, stopped: () => boolean): ImageWarmup {
  let watched = false;
  let timer: NodeJS.Timeout | undefined;
  const imageRoutes = (t: RouteTable): string[] => t.routes.filter((r) => r.transformProblem && !r.disabledReason).map((r) => r.name);
  const failed = (routes: string[], err: Error): void => {
    if (!routes.length) return;
    log.error(
      { routes, err: err.message },
      `the image library (sharp/libvips) failed to load: ${summary(err)}. png-to-jpeg cannot run, so route${routes.length > 1 ? 's' : ''} ${routes.join(', ')} answer${routes.length > 1 ? '' : 's'} 503 route_disabled (readyPath shows it); the other routes serve. Fix it and restart the relay.`,
    );
  };
  const load = (): void => {
    w.onFirstRequest = undefined;
    clearTimeout(timer);
    setImmediate(() => {
      if (stopped()) return;
      const t0 = performance.now();
      imageLibrary().then(
        () => log.debug({ dur_ms: Math.round(performance.now() - t0) }, 'image library (sharp) loaded'),
        (err: unknown) => failed(imageRoutes(current()), err as Error),
      );
    });
  };
  const w: ImageWarmup = {
    onFirstRequest: undefined,
    watch(t) {
      const routes = imageRoutes(t);
      if (!routes.length) return;
      const err = imageLibraryFailure();
      if (err) return failed(routes, err); // a reload onto a relay that already lost it
      if (watched) return;
      watched = true;
      w.onFirstRequest = load;
      timer = setTimeout(load, LOAD_DELAY);
      timer.unref();
    },
  };
  return w;
}
