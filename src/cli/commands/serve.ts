/**
 * `ai-relay serve`: flags → startRelay, plus signals. SIGHUP (and --watch) reload the config and
 * the env file; SIGTERM drains (ready → 503, `server.drainDelay`, then `shutdownGrace` for streams
 * in flight) and exits 0; SIGINT (Ctrl-C) drains without the delay. `--workers N` runs a primary
 * that forks N copies of this same command (cluster/primary.ts); each worker serves as below.
 *
 * This file is only the commander definition: the relay itself (config, zod schema, undici,
 * pino…) is imported when serve actually runs (serve-run.ts), so `--version`, `--help`, `check`,
 * `gen-cert` and `init` start without it.
 */
import { Command, Option } from 'commander';
import { configOptions } from '../program.js';

export interface ServeFlags {
  config: string;
  envFile?: string;
  host?: string;
  port?: string;
  logLevel?: string;
  workers?: string;
  strict?: boolean;
  watch?: boolean;
}

export function serveCommand(): Command {
  return configOptions(new Command('serve'))
    .description('start the relay; SIGTERM/SIGINT drain and exit, SIGHUP reloads the config')
    .option('--host <host>', 'listen address (overrides server.host)')
    .option('-p, --port <port>', 'listen port (overrides server.port)')
    .addOption(new Option('--log-level <level>', 'log level (overrides log.level and LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .option('--workers <n>', 'processes sharing the port (default 1)')
    .option('--strict', 'an unset variable is a startup error instead of disabling its route')
    .option('--watch', 'reload when the config or env file changes')
    .action(async (flags: ServeFlags) => (await import('./serve-run.js')).runServe(flags));
}

