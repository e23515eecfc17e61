/**
 * `ai-relay init` (spec §2): a commented starter proxy.config.yaml and .env.example for a preset.
 * Refuses to overwrite either file (exit 1) unless --force.
 */
import { Command, Option } from 'commander';
import path from 'node:path';
import { CliError } from '../errors.js';
import { PRESET_NAMES, type PresetName } from '../../presets/index.js';
import { PresetExistsError, writePreset, type WrittenPreset } from '../../presets/write.js';

interface InitFlags {
  preset: PresetName;
  dir: string;
  force?: boolean;
}

export function initCommand(): Command {
  return new Command('init')
    .description('write a commented starter proxy.config.yaml and .env.example')
    .addOption(new Option('--preset <name>', 'which APIs to configure').choices(PRESET_NAMES).default('openai'))
    .option('--dir <dir>', 'directory to write into (created when missing)', '.')
    .option('--force', 'overwrite existing files')
    .action((flags: InitFlags) => {
      runInit(flags);
    });
}

function runInit(flags: InitFlags): void {
  let written: WrittenPreset;
  try {
    written = writePreset(flags.dir, flags.preset, { force: flags.force === true });
  } catch (err) {
    if (err instanceof PresetExistsError) throw new CliError(err.message, 1);
    throw new CliError(`cannot write the starter config into ${flags.dir}: ${(err as Error).message}`, 1);
  }
  process.stdout.write(report(flags, written));
}

function report(flags: InitFlags, w: WrittenPreset): string {
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const inDir = path.resolve(flags.dir) === process.cwd() ? '' : `cd ${flags.dir} && `;
  const steps = [
    `${inDir}cp .env.example .env    # then put your keys and PROXY_TOKEN in .env`,
    ...w.steps,
    'ai-relay check              # validates the config and prints the route table',
    'ai-relay serve              # listens on 0.0.0.0:8787; GET /health answers without a token',
  ];
  return [
    `wrote ${w.files.map(rel).join(' and ')} (preset ${flags.preset})`,
    'next:',
    ...steps.map((s, i) => `  ${i + 1}. ${s}`),
    '',
  ].join('\n');
}
