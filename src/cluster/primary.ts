/**
 * `serve --workers N`: the primary process forks N workers that share one listening port
 * (node:cluster), and does nothing on the request path itself. It
 * - restarts a worker that dies (with a growing delay when they keep dying, so a crash loop does
 *   not eat the CPU), and gives up with exit 1 if the very first workers cannot start;
 * - forwards SIGHUP (and --watch changes) to every worker: each reloads on its own, keeping its
 *   streams; SIGTERM/SIGINT: every worker drains, then the primary exits 0;
 * - answers workers' requests for whole-relay metrics by merging every worker's registry.
 * Workers run the same command line (cluster.fork re-runs argv) and tag their logs with their id.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { isMessage, METRICS_REQ, METRICS_RES, type MetricsRequest, type MetricsResponse } from './messages.js';

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** Longest drain of a worker (shutdownGrace); a worker still alive this long after it was told to stop (+5 s) is killed. */
  grace: number;
  /** Registers a callback for file changes (--watch); the primary turns them into worker reloads. */
  watch?: (onChange: () => void) => void;
}

/** Resolves with the exit code once every worker has stopped. */
export function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { log } = opts;
  const aggregator = new AggregatorRegistry();
  const own = new Registry();
  const restarts = new Counter({ name: 'ai_relay_worker_restarts_total', help: 'Workers that died and were replaced (--workers).', registers: [own] });
  restarts.inc(0);
  new Gauge({
    name: 'ai_relay_workers',
    help: 'Worker processes alive (--workers).',
    registers: [own],
    collect() {
      this.set(Object.keys(cluster.workers ?? {}).length);
    },
  });

  const listening = new Set<number>();
  let everListened = false;
  let shutting = false;
  let failed = false;
  let recentCrashes = 0;
  const startedAt = new Map<number, number>();

  const fork = () => {
    const w = cluster.fork();
    startedAt.set(w.id, Date.now());
    log.info({ worker_id: w.id, pid: w.process.pid }, 'worker started');
    return w;
  };
  const each = (fn: (w: Worker) => void) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w) fn(w);
  };
  const signalAll = (sig: NodeJS.Signals) =>
    each((w) => {
      try {
        w.process.kill(sig);
      } catch {
        /* already gone */
      }
    });

  return new Promise<number>((resolve) => {
    const finishIfDone = () => {
      if (shutting && Object.keys(cluster.workers ?? {}).length === 0) {
        clearTimeout(killTimer);
        log.info('all workers stopped');
        resolve(failed ? 1 : 0);
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const shutdown = (why: string) => {
      if (shutting) return;
      shutting = true;
      log.info({ signal: why, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down: every worker drains its in-flight exchanges');
      signalAll('SIGTERM');
      killTimer = setTimeout(() => {
        log.error('workers still running after shutdownGrace + 5s; killing them');
        signalAll('SIGKILL');
      }, opts.grace + 5000);
      killTimer.unref();
      finishIfDone();
    };

    cluster.on('listening', (w) => {
      listening.add(w.id);
      everListened = true;
    });
    cluster.on('exit', (w, code, signal) => {
      const ranFor = Date.now() - (startedAt.get(w.id) ?? Date.now());
      startedAt.delete(w.id);
      const wasListening = listening.delete(w.id);
      if (shutting) {
        if (code !== 0 && signal !== 'SIGTERM') failed = true;
        return finishIfDone();
      }
      if (!wasListening && !everListened) {
        // The first workers cannot start (port in use, bad TLS files…): restarting would only loop.
        log.fatal({ worker: w.id, code, signal }, 'a worker failed to start; stopping');
        failed = true;
        return shutdown('startup failure');
      }
      recentCrashes = ranFor > 30_000 ? 1 : recentCrashes + 1;
      const delay = Math.min(5000, 100 * 2 ** (recentCrashes - 1));
      log.error({ worker: w.id, code, signal, restart_in_ms: delay }, 'worker died; starting a replacement');
      restarts.inc();
      setTimeout(() => {
        if (!shutting) fork();
      }, delay);
    });
    cluster.on('message', (w: Worker, msg: unknown) => {
      if (!isMessage<MetricsRequest>(msg, METRICS_REQ)) return;
      aggregator.clusterMetrics().then(
        async (text) => reply(w, { type: METRICS_RES, id: msg.id, text: text + (await own.metrics()) }),
        (err: Error) => reply(w, { type: METRICS_RES, id: msg.id, error: err.message }),
      );
    });

    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    const reloadAll = (why: string) => {
      if (shutting) return;
      log.info({ trigger: why }, 'reloading every worker');
      signalAll('SIGHUP');
    };
    process.on('SIGHUP', () => reloadAll('SIGHUP'));
    opts.watch?.(() => reloadAll('watch'));

    log.info({ workers: opts.workers }, `starting ${opts.workers} workers`);
    for (let i = 0; i < opts.workers; i++) fork();
  });
}

function reply(w: Worker, msg: MetricsResponse): void {
  if (w.isConnected()) w.send(msg);
}
