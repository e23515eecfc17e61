/**
 * Compiles a route's `transforms:` list into a TransformPlanner (see types.ts), once, at startup:
 * plugin modules are imported and shape-checked here, so a broken plugin fails the start with the
 * file's name instead of failing some later response. sharp is not loaded here (unless
 * `loadImageLibrary`): png-to-jpeg holds a handle that the relay loads once it listens
 * (image-library.ts).
 */
import type { TransformConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { CompiledTransform, RouteInfo, TransformPlanner } from './types.js';
import { compilePngToJpeg } from './png-to-jpeg.js';
import { loadPlugin } from './plugin.js';
import { createPlanner } from './planner.js';
import { setConversionConcurrency } from './semaphore.js';
import type { MetricsSink } from '../metrics/types.js';

export interface TransformCompileOptions {
  route: RouteInfo;
  /** Directory of the config file: plugin `module:` paths resolve against it. */
  configDir: string;
  maxTransformSize: number;
  log: Logger;
  /** Counts and times every transform run (ok, or failed and the original sent). */
  metrics?: MetricsSink;
  /**
   * Process-wide cap on image conversions in flight (`server.imageConversions`); undefined keeps
   * the default, CPU count − 1 (semaphore.ts). Applied when a route uses png-to-jpeg.
   */
  conversions?: number;
  /**
   * Load sharp now and fail the compile if it cannot load (`check`). Otherwise png-to-jpeg only
   * takes a handle to it, loaded after the relay listens (image-library.ts).
   */
  loadImageLibrary?: boolean;
}

export async function compileTransforms(
  list: TransformConfig[],
  opts: TransformCompileOptions,
): Promise<TransformPlanner | undefined> {
  if (list.length === 0) return undefined;
  const compiled: CompiledTransform[] = [];
  for (const item of list) {
    if ('png-to-jpeg' in item) {
      setConversionConcurrency(opts.conversions);
      compiled.push(await compilePngToJpeg(item['png-to-jpeg'], { loadImageLibrary: opts.loadImageLibrary ?? false }));
    } else {
      compiled.push(await loadPlugin(item, opts.configDir));
    }
  }
  if (opts.metrics) for (const c of compiled) instrument(c, opts.route.name, opts.metrics);
  return createPlanner(compiled, opts);
}

function instrument(c: CompiledTransform, route: string, metrics: MetricsSink): void {
  const run = c.transform.transform.bind(c.transform);
  c.transform = {
    ...c.transform,
    match: c.transform.match.bind(c.transform),
    async transform(body, ctx) {
      const t0 = performance.now();
      try {
        const out = await run(body, ctx);
        metrics.transformDone(route, true, performance.now() - t0);
        return out;
      } catch (err) {
        metrics.transformDone(route, false, performance.now() - t0);
        throw err;
      }
    },
  };
}

export type { TransformPlanner } from './types.js';
