/**
 * Programmatic API. Nothing runs at import time.
 *
 *   const loaded = loadConfig('proxy.config.yaml', { env: process.env });
 *   const relay = await startRelay(loaded);
 *   ...
 *   await relay.close();
 */
import { loadConfigFile, type LoadOptions, type LoadedConfig } from './config/load.js';

export { startRelay, type Relay, type StartOptions } from './relay.js';
export { parseConfigText, type LoadedConfig, type LoadOptions } from './config/load.js';
export { loadEnv } from './config/env.js';
export { ConfigError, RelayError, type ConfigIssue } from './errors.js';
export type { RelayConfig, RouteConfig } from './config/schema.js';
export type { ResponseTransform, TransformContext } from './transforms/types.js';

export function loadConfig(file: string, opts: LoadOptions): LoadedConfig {
  return loadConfigFile(file, opts);
}
