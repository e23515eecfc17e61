/**
 * What `ai-relay serve` does once its flags are parsed (the definition is in serve.ts and imports
 * this file lazily). Cluster code (and its prom-client aggregation) is imported only under
 * --workers.
 */
import cluster from 'node:cluster';
import { watch } from 'node:fs';
import path from 'node:path';
import { loadEnv } from '../../config/env.js';
import { loadConfigFile } from '../../config/load.js';
import { createLogger } from '../../log/logger.js';
import { Redactor } from '../../log/redact.js';
import { loadPromClient } from '../../metrics/prom-client.js';
import { startRelay, type Relay } from '../../relay.js';
import { CliError, UsageError } from '../errors.js';
import { tuneHeap } from '../heap.js';
import type { ServeFlags } from './serve.js';

export async function runServe(flags: ServeFlags): Promise<void> {
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError(`--port must be 0-65535, got ${flags.port}`);
  const workers = flags.workers === undefined ? 1 : Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers must be a positive integer, got ${flags.workers}`);
  const heap = tuneHeap(); // before anything allocates much: see heap.ts
  const envFile = flags.envFile ?? '.env';
  const readAll = () => {
    const env = loadEnv(envFile, process.env, flags.envFile !== undefined);
    return { env, loaded: loadConfigFile(flags.config, { env, strict: flags.strict ?? false }) };
  };
  const watched = [flags.config, envFile];

  if (workers > 1 && cluster.isPrimary) {
    // Validate before forking: an invalid config exits 1 here instead of crash-looping workers.
    const { env, loaded } = readAll();
    const log = createLogger({
      level: flags.logLevel ?? env.LOG_LEVEL ?? loaded.config.log.level,
      format: loaded.config.log.format,
      redactor: new Redactor(),
      base: { worker: 'primary' },
    });
    const { runPrimary } = await import('../../cluster/primary.js');
    const code = await runPrimary({
      workers,
      log,
      grace: loaded.config.server.shutdownGrace,
      ...(flags.watch ? { watch: (onChange: () => void) => watchFiles(watched, onChange) } : {}),
    });
    if (code !== 0) throw new CliError('a worker failed; see the log above');
    return;
  }

  const workerId = cluster.isWorker ? cluster.worker?.id : undefined;
  let relay: Relay;
  try {
    // Under --workers each worker asks the primary for the merged metrics (prom-client's aggregator).
    // Its registry must exist at once, so prom-client is loaded before startRelay here.
    const clusterMetricsSource = workerId === undefined ? undefined : (await import('../../cluster/worker-metrics.js')).clusterMetricsSource;
    if (workerId !== undefined) await loadPromClient();
    const { env, loaded } = readAll();
    relay = await startRelay(loaded, {
      env,
      ...(flags.host ? { host: flags.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
      ...(workerId !== undefined ? { logBase: { worker: workerId }, metricsSource: (m) => clusterMetricsSource!(m.registry) } : {}),
    });
  } catch (err) {
    if (workerId !== undefined) exitSoon(1); // the IPC channel would keep a failed worker alive
    throw err;
  }

  relay.log.debug({ heap_growing_percent: heap.growingPercent, allocation_site_pretenuring: !heap.pretenuringOff }, 'V8 heap settings (AI_RELAY_HEAP_GROWING_PERCENT=0 and AI_RELAY_HEAP_PRETENURING=1 keep V8 defaults)');

  const reload = (trigger: string) => {
    relay.log.info({ trigger }, 'reloading the configuration');
    // relay.reload logs every problem (FILE:LINE:COL) and counts the failure; nothing to add here.
    relay.reload(() => readAll().loaded).catch(() => undefined);
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  // Under --workers the primary watches and signals every worker.
  if (flags.watch && workerId === undefined) watchFiles(watched, () => reload('watch'));

  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      const server = relay.table().config.server;
      relay.log.info({ signal: sig }, 'shutting down: draining in-flight exchanges');
      relay.close(server.shutdownGrace, { drainDelay: sig === 'SIGINT' ? 0 : server.drainDelay }).then(resolve, resolve);
    };
    // `on`, not `once`: a second signal (Ctrl-C reaching a worker and its primary) must not kill.
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  relay.log.info('stopped');
  exitSoon(0);
}

/**
 * The process normally ends by itself once drained; a handle we do not own (an IPC channel, a
 * library timer) must not keep a stopped relay alive. The timer is unref'd: it only fires if
 * something else is still holding the event loop.
 */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), cluster.isWorker ? 50 : 1000).unref();
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

