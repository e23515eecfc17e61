/**
 * Write a preset to disk. Both files are checked before either is written, and each is created
 * with O_EXCL, so `init` never clobbers a config someone already edited (unless --force).
 */
import fs from 'node:fs';
import path from 'node:path';
import { renderPreset, type PresetName } from './index.js';

export const CONFIG_FILE = 'proxy.config.yaml';
export const ENV_EXAMPLE_FILE = '.env.example';

export class PresetExistsError extends Error {
  constructor(readonly files: string[]) {
    super(`refusing to overwrite ${files.join(' and ')} (use --force to replace)`);
    this.name = 'PresetExistsError';
  }
}

export interface WrittenPreset {
  dir: string;
  files: string[];
  steps: string[];
}

export function writePreset(dir: string, preset: PresetName, opts: { force?: boolean } = {}): WrittenPreset {
  const abs = path.resolve(dir);
  const rendered = renderPreset(preset);
  const targets: [string, string][] = [
    [path.join(abs, CONFIG_FILE), rendered.config],
    [path.join(abs, ENV_EXAMPLE_FILE), rendered.env],
  ];
  if (!opts.force) {
    const existing = targets.map(([f]) => f).filter((f) => fs.existsSync(f));
    if (existing.length) throw new PresetExistsError(existing);
  }
  fs.mkdirSync(abs, { recursive: true });
  for (const [file, text] of targets) {
    try {
      fs.writeFileSync(file, text, { flag: opts.force ? 'w' : 'wx', mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new PresetExistsError([file]);
      throw err;
    }
  }
  return { dir: abs, files: targets.map(([f]) => f), steps: rendered.steps };
}
