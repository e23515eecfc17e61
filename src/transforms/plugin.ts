/**
 * Loads a `module:` transform (spec §6) at startup and checks its shape, so a broken plugin is a
 * startup error naming the file rather than a failure on some later response.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importFile } from '../util/import-file.js';
import type { CompiledTransform, ResponseTransform } from './types.js';

export class PluginLoadError extends Error {
  constructor(readonly file: string, message: string, cause?: unknown) {
    super(`transform module ${file}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'PluginLoadError';
  }
}

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'the default export must be an object { name, match, transform }';
  const v = value as Record<string, unknown>;
  if (typeof v.name !== 'string' || v.name === '') return 'the default export needs a non-empty string `name`';
  if (typeof v.match !== 'function') return '`match` must be a function (res) => boolean';
  if (typeof v.transform !== 'function') return '`transform` must be a function (body, ctx) => Buffer | { body, headers }';
  return undefined;
}

export interface PluginConfig {
  module: string;
  options: Record<string, unknown>;
  timeout: number;
}

export async function loadPlugin(cfg: PluginConfig, configDir: string): Promise<CompiledTransform> {
  const file = isAbsolute(cfg.module) ? cfg.module : resolve(configDir, cfg.module);
  let mod: { default?: unknown };
  try {
    mod = (await importFile(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new PluginLoadError(file, `cannot be loaded: ${(err as Error).message}`, err);
  }
  const problem = shapeProblem(mod.default);
  if (problem) throw new PluginLoadError(file, problem);
  return {
    transform: mod.default as ResponseTransform,
    options: cfg.options,
    timeout: cfg.timeout,
  };
}
