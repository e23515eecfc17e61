/**
 * The built-in dashboard (spec §14): wires the feed, sessions, the SSE hub and the endpoints to a
 * running relay. Off unless `server.dashboard` is set; the relay installs `record` as an exchange
 * hook and `intercept` in front of route matching only while it is on.
 *
 * With `server.dashboard.listen` the dashboard gets its own plain-HTTP listener (typically
 * 127.0.0.1, reached through an SSH tunnel) and the main listener does not serve it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DashboardConfig } from '../config/schema.js';
import { RelayError } from '../errors.js';
import type { AnyRequest, AnyResponse, Exchange } from '../server/context.js';
import type { RouteTable } from '../routing/table.js';
import { requestIdFor } from '../server/request-id.js';
import { EventsHub } from './events.js';
import { DashboardFeed } from './feed.js';
import { createDashboardHandler } from './handler.js';
import { sendDashError } from './http.js';
import { dashboardTarget } from './mount.js';
import { Sessions, tokenTag } from './sessions.js';
import { buildView, type RelaySource } from './view.js';

export interface Dashboard {
  readonly feed: DashboardFeed;
  readonly hub: EventsHub;
  readonly sessions: Sessions;
  /** The exchange hook (RelayState.onExchangeDone calls it). */
  record(x: Exchange): void;
  /** Serves the request when it is a dashboard request on the main listener; false otherwise. */
  intercept(req: AnyRequest, res: AnyResponse): boolean;
  /** The separate listener's URL when `listen` is set. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

export interface DashboardDeps extends RelaySource {
  /** The dashboard settings now (reloads may change path, token and idle time). */
  config(): DashboardConfig | undefined;
}

export async function startDashboard(deps: DashboardDeps): Promise<Dashboard> {
  const feed = new DashboardFeed();
  const sessions = new Sessions(() => deps.config()?.sessionIdle ?? 12 * 3600_000);
  const tokenNow = () => deps.config()?.token ?? '';
  const hub: EventsHub = new EventsHub({
    view: (type, after) => buildView(feed, deps, type, after),
    signature: () => `${feed.version}|${deps.inFlight()}|${deps.openStreams()}|${deps.phase()}`,
    sessionAlive: (s) => deps.config() !== undefined && sessions.touch(s, tokenTag(tokenNow())),
  });
  const handle = createDashboardHandler({
    token: tokenNow,
    sessions,
    hub,
    snapshot: () => buildView(feed, deps, 'snapshot', 0),
    sessionIdleMs: () => deps.config()?.sessionIdle ?? 12 * 3600_000,
  });
  const route = (req: AnyRequest, res: AnyResponse, table: RouteTable): boolean => {
    const cfg = deps.config();
    if (!cfg) return false;
    const t = dashboardTarget(req.url ?? '/', table.bases, cfg.path);
    if (!t) return false;
    handle(req, res, t.mount, t.sub);
    return true;
  };

  let server: http.Server | undefined;
  let url: string | undefined;
  const listen = deps.config()?.listen;
  if (listen) {
    const colon = listen.lastIndexOf(':');
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(colon + 1));
    server = http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0 }, (req, res) => {
      if (!route(req, res, deps.table())) sendDashError(res, new RelayError('no_route', 'only the dashboard answers on this listener'), requestIdFor(req.headers['x-request-id']));
    });
    server.headersTimeout = 15_000;
    server.keepAliveTimeout = 5_000;
    server.on('clientError', (_err, sock) => sock.destroy());
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, host, () => {
        server!.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${deps.config()?.path ?? ''}`;
  }

  return {
    feed,
    hub,
    sessions,
    url,
    record: (x) => feed.record(x),
    intercept: server ? () => false : (req, res) => route(req, res, deps.table()),
    async close() {
      hub.close();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
    },
  };
}

