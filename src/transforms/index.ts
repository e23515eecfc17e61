/**
 * Compiles a route's `transforms:` list into a TransformPlanner (see types.ts), once, at startup:
 * sharp is loaded and plugin modules are imported and shape-checked here, so a broken transform
 * fails the start with the file's name instead of failing some later response.
 */
import type { TransformConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { CompiledTransform, RouteInfo, TransformPlanner } from './types.js';
import { compilePngToJpeg } from './png-to-jpeg.js';
import { loadPlugin } from './plugin.js';
import { createPlanner } from './planner.js';

export interface TransformCompileOptions {
  route: RouteInfo;
  /** Directory of the config file: plugin `module:` paths resolve against it. */
  configDir: string;
  maxTransformSize: number;
  log: Logger;
}

export async function compileTransforms(
  list: TransformConfig[],
  opts: TransformCompileOptions,
): Promise<TransformPlanner | undefined> {
  if (list.length === 0) return undefined;
  const compiled: CompiledTransform[] = [];
  for (const item of list) {
    if ('png-to-jpeg' in item) compiled.push(await compilePngToJpeg(item['png-to-jpeg']));
    else compiled.push(await loadPlugin(item, opts.configDir));
  }
  return createPlanner(compiled, opts);
}

export type { TransformPlanner } from './types.js';
