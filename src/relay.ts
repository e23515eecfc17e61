/**
 * The library entry: startRelay(loaded) → a running relay. The CLI is a thin layer over this.
 * Owns the lifecycle: compile → listen → serve → reload (atomic table swap) → drain → close.
 */
import type { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { LoadedConfig } from './config/load.js';
import { createLogger, type Logger } from './log/logger.js';
import { Redactor } from './log/redact.js';
import { compileTable } from './routing/compile.js';
import type { RouteTable } from './routing/table.js';
import { createHandler, type RelayState } from './server/handle.js';
import { listen, type Listener } from './server/listen.js';
import { PoolRegistry } from './upstream/dispatcher.js';
import { loadServerTls } from './tls/files.js';
import { relayVersion } from './version.js';
import { logBanner } from './server/banner.js';

export interface StartOptions {
  /** Where log lines go (default stdout). */
  logDestination?: Writable | NodeJS.WritableStream;
  /** Overrides for the listener (CLI flags beat the config). */
  host?: string;
  port?: number;
  logLevel?: string;
  env?: Record<string, string | undefined>;
  /** Static fields on every log line (e.g. worker id). */
  logBase?: Record<string, unknown>;
}

export interface Relay {
  url: string;
  address: AddressInfo;
  log: Logger;
  /** The table new requests use. */
  table(): RouteTable;
  /** Compile `next` aside and swap it in atomically; throws (old table keeps serving) if invalid. */
  reload(next: LoadedConfig): Promise<void>;
  /** Drain: ready → 503, stop accepting, wait up to `grace` ms for in-flight exchanges, then cut. */
  close(grace?: number): Promise<void>;
  state: RelayState;
}

export async function startRelay(loaded: LoadedConfig, opts: StartOptions = {}): Promise<Relay> {
  const cfg = loaded.config;
  const env = opts.env ?? process.env;
  const redactor = new Redactor();
  const log = createLogger({
    level: opts.logLevel ?? env.LOG_LEVEL ?? cfg.log.level,
    format: cfg.log.format,
    redactor,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
    ...(opts.logBase ? { base: opts.logBase } : {}),
  });
  const pools = new PoolRegistry();
  const table = await compileTable(loaded, { pools, log, env, redactor });
  const state: RelayState = {
    table,
    phase: 'starting',
    active: 0,
    version: relayVersion(),
    startedAt: Date.now(),
    log,
  };
  const serverCfg = { ...cfg.server, host: opts.host ?? cfg.server.host, port: opts.port ?? cfg.server.port };
  let listener: Listener;
  try {
    const tls = cfg.server.tls ? await loadServerTls(cfg.server.tls, loaded.dir, log) : undefined;
    listener = await listen(serverCfg, createHandler(state), tls);
  } catch (err) {
    await table.dispose();
    await pools.destroyAll();
    throw err;
  }
  state.phase = 'ready';
  logBanner(log, loaded, table, listener.url);

  let closing: Promise<void> | undefined;
  const relay: Relay = {
    url: listener.url,
    address: listener.address,
    log,
    state,
    table: () => state.table,
    async reload(next) {
      const fresh = await compileTable(next, { pools, log, env, redactor });
      const old = state.table;
      state.table = fresh;
      if (next.config.server.tls) {
        const material = await loadServerTls(next.config.server.tls, next.dir, log).catch((err) => {
          log.error({ err: (err as Error).message }, 'TLS reload failed; keeping the old certificate');
          return undefined;
        });
        if (material) listener.reloadTls(material);
      }
      // Pools shared with the new table stay warm (refcounted); others close once idle.
      void old.dispose();
      log.info({ routes: fresh.routes.length }, 'configuration reloaded');
    },
    close(grace = cfg.server.shutdownGrace) {
      closing ??= (async () => {
        state.phase = 'draining';
        const stopped = listener.stopAccepting();
        if (state.active > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              log.warn({ active: state.active }, `shutdown grace of ${grace}ms passed; cutting ${state.active} exchange(s)`);
              resolve();
            }, grace);
            timer.unref();
            state.onIdle = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        listener.destroyAll();
        await stopped;
        await state.table.dispose();
        await pools.destroyAll();
      })();
      return closing;
    },
  };
  return relay;
}
