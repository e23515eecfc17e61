/**
 * Compiles a route's `transforms:` list into a TransformPlanner (see types.ts).
 * STUB: replaced by the transforms implementation (issue #5).
 */
import type { TransformConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { RouteInfo, TransformPlanner } from './types.js';

export interface TransformCompileOptions {
  route: RouteInfo;
  /** Directory of the config file: plugin `module:` paths resolve against it. */
  configDir: string;
  maxTransformSize: number;
  log: Logger;
}

export async function compileTransforms(
  list: TransformConfig[],
  _opts: TransformCompileOptions,
): Promise<TransformPlanner | undefined> {
  if (list.length === 0) return undefined;
  return undefined;
}
