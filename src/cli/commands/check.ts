/**
 * `ai-relay check`: validate the config and print the route table (spec §2). The work is in
 * check-run.ts, imported when the command runs so other commands never load the config code.
 */
import { Command } from 'commander';
import { configOptions } from '../program.js';

export interface CheckFlags {
  config: string;
  envFile?: string;
  strict?: boolean;
}

export function checkCommand(): Command {
  return configOptions(new Command('check'))
    .description('validate the config and print the route table; exit 1 listing every error as FILE:LINE:COL')
    .option('--strict', 'treat unset variables as errors')
    .action(async (opts: CheckFlags) => (await import('./check-run.js')).runCheck(opts));
}
