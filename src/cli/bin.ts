/**
 * The CLI's single exit boundary: every error becomes a message on stderr and an exit code
 * (0 success, 1 invalid config or runtime failure, 2 bad usage — spec §2).
 */
import { CommanderError } from 'commander';
import chalk from 'chalk';
import { ConfigError, formatIssue } from '../errors.js';
import { CliError } from './errors.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version "fail" with exit code 0 by design.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 2;
  }
  if (err instanceof ConfigError) {
    for (const i of err.issues) process.stderr.write(`${formatIssue(i)}\n`);
    process.stderr.write(chalk.red(`${err.issues.length} problem${err.issues.length === 1 ? '' : 's'} found\n`));
    return 1;
  }
  if (err instanceof CliError) {
    process.stderr.write(`ai-relay: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`ai-relay: ${(err as Error)?.message ?? String(err)}\n`);
  return 1;
}
