/**
 * buildProgram(): the commander definition, free of side effects so tests can build and parse it.
 * Subcommands are thin: flags → library options. Exit codes are decided in bin.ts.
 */
import { Command, Option } from 'commander';
import { relayVersion } from '../version.js';
import { serveCommand } from './commands/serve.js';
import { checkCommand } from './commands/check.js';
import { genCertCommand } from './commands/gen-cert.js';
import { initCommand } from './commands/init.js';

export function buildProgram(): Command {
  const program = new Command('ai-relay')
    .description('A streaming relay for AI APIs: keys stay on the server, CORS stops being a problem, regions stop mattering.')
    .version(relayVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
  program.addCommand(serveCommand());
  program.addCommand(checkCommand());
  program.addCommand(genCertCommand());
  program.addCommand(initCommand());
  return program;
}

/** Shared flags of serve and check. */
export function configOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-c, --config <file>', 'config file').default('proxy.config.yaml'))
    .addOption(new Option('--env-file <file>', 'env file loaded before the config (real env vars win); default .env if present'));
}
