/** `ai-relay serve`: flags → startRelay, plus signals (SIGINT/SIGTERM drain, SIGHUP reload). */
import { Command, Option } from 'commander';
import { watch } from 'node:fs';
import path from 'node:path';
import { loadEnv } from '../../config/env.js';
import { loadConfigFile } from '../../config/load.js';
import { ConfigError, formatIssue } from '../../errors.js';
import { startRelay, type Relay } from '../../relay.js';
import { UsageError } from '../errors.js';
import { configOptions } from '../program.js';

interface ServeFlags {
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
    .description('start the relay; SIGINT/SIGTERM drain and exit, SIGHUP reloads the config')
    .option('--host <host>', 'listen address (overrides server.host)')
    .option('-p, --port <port>', 'listen port (overrides server.port)')
    .addOption(new Option('--log-level <level>', 'log level (overrides log.level and LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .option('--workers <n>', 'processes sharing the port (default 1)')
    .option('--strict', 'an unset variable is a startup error instead of disabling its route')
    .option('--watch', 'reload when the config or env file changes')
    .action(async (flags: ServeFlags) => runServe(flags));
}

async function runServe(flags: ServeFlags): Promise<void> {
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError(`--port must be 0-65535, got ${flags.port}`);
  const workers = flags.workers === undefined ? 1 : Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers must be a positive integer, got ${flags.workers}`);
  const envFile = flags.envFile ?? '.env';
  const readAll = () => {
    const env = loadEnv(envFile, process.env, flags.envFile !== undefined);
    return { env, loaded: loadConfigFile(flags.config, { env, strict: flags.strict ?? false }) };
  };
  const { env, loaded } = readAll();
  const relay = await startRelay(loaded, {
    env,
    ...(flags.host ? { host: flags.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
  });

  const reload = async (why: string) => {
    try {
      const next = readAll();
      await relay.reload(next.loaded);
      relay.log.info({ trigger: why }, 'reload complete');
    } catch (err) {
      if (err instanceof ConfigError) {
        for (const i of err.issues) relay.log.error(formatIssue(i));
        relay.log.error({ trigger: why }, 'reload rejected: the config is invalid; the old configuration keeps serving');
      } else relay.log.error({ err: (err as Error).message, trigger: why }, 'reload failed; the old configuration keeps serving');
    }
  };
  process.on('SIGHUP', () => void reload('SIGHUP'));
  if (flags.watch) watchFiles([flags.config, envFile], () => void reload('watch'));

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      relay.log.info({ signal: sig }, 'shutting down: draining in-flight exchanges');
      relay.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  relay.log.info('stopped');
}

/** Watches the files' directories (editors replace files, which a file watch would miss). */
function watchFiles(files: string[], onChange: () => void): void {
  let timer: NodeJS.Timeout | undefined;
  const names = new Map<string, Set<string>>();
  for (const f of files) {
    const abs = path.resolve(f);
    const dir = path.dirname(abs);
    if (!names.has(dir)) names.set(dir, new Set());
    names.get(dir)!.add(path.basename(abs));
  }
  for (const [dir, set] of names) {
    try {
      watch(dir, { persistent: false }, (_ev, name) => {
        if (name && !set.has(String(name))) return;
        clearTimeout(timer);
        timer = setTimeout(onChange, 150);
      });
    } catch {
      /* a missing directory: nothing to watch */
    }
  }
}

export type { Relay };
