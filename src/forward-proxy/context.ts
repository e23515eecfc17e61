/**
 * State shared by the forward proxy's CONNECT and absolute-form handlers: the compiled policy,
 * the live tunnels (for close()), and the one log line each tunnel gets when it ends. The
 * connection cap is not here: index.ts checks it per TCP connection before anything is parsed.
 */
import type net from 'node:net';
import type { Logger } from '../log/logger.js';
import type { ForwardProxyConfig } from '../config/schema.js';
import { checkProxyAuth, type AuthResult } from './auth.js';
import { compileAllow, type Target } from './allow.js';
import type { Lookup } from './dial.js';
import { LiveSet } from '../server/live-set.js';

/** How long a target may take to accept the TCP connection. */
export const DIAL_TIMEOUT_MS = 10_000;

export type Outcome =
  | 'ok'
  | 'idle_timeout'
  | 'error'
  | 'auth_required'
  | 'not_allowed'
  | 'private_address'
  | 'overloaded'
  | 'bad_request'
  | 'dial_failed'
  | 'dial_timeout'
  | 'shutdown';

export interface TunnelRecord {
  /** 'connection': refused at the connection cap, before a request was read. */
  kind: 'connect' | 'http' | 'connection';
  client: string;
  user?: string;
  target?: string;
  bytesUp: number;
  bytesDown: number;
  outcome: Outcome;
  status: number;
  error?: string;
}

export interface ProxyContext {
  cfg: ForwardProxyConfig;
  log: Logger;
  lookup: Lookup | undefined;
  allow: (t: Target) => boolean;
  auth: (header: string | undefined) => AuthResult;
  /** Sockets of live exchanges, destroyed by close(). */
  live: LiveSet<net.Socket>;
  closing: AbortController;
  logTunnel(rec: TunnelRecord, startedAt: number): void;
}

export function createContext(cfg: ForwardProxyConfig, log: Logger, lookup: Lookup | undefined): ProxyContext {
  return {
    cfg,
    log,
    lookup,
    allow: compileAllow(cfg.allow),
    auth: (header) => checkProxyAuth(header, cfg.users),
    live: new LiveSet(), // a tunnel per request is churn: see server/live-set.ts
    closing: new AbortController(),
    logTunnel(rec, startedAt) {
      const line = { ...rec, durationMs: Date.now() - startedAt };
      const msg = rec.kind === 'connect' ? 'forward proxy tunnel' : rec.kind === 'http' ? 'forward proxy request' : 'forward proxy connection';
      if (rec.outcome === 'ok' || rec.outcome === 'idle_timeout' || rec.outcome === 'shutdown') log.info(line, msg);
      else log.warn(line, msg);
    },
  };
}
