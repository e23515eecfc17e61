/**
 * Egress: how a route's upstream connections leave the machine (direct, env proxy, HTTP(S)
 * CONNECT proxy, SOCKS5/5h). Produces an undici `connect` function.
 * STUB: direct connections only; the egress implementation (issue #7) replaces this.
 */
import { buildConnector } from 'undici';
import type { ConnectionOptions } from 'node:tls';

export interface EgressOptions {
  /** `env` | `none` | proxy URL, from the route or the global `egress`. */
  proxy: string;
  /** Upstream origin, e.g. https://api.openai.com */
  origin: string;
  /** TLS options for the upstream handshake (ca, cert, key, rejectUnauthorized, servername). */
  tls: ConnectionOptions;
  connectTimeout: number;
  env: Record<string, string | undefined>;
}

export interface Egress {
  connect: buildConnector.connector;
  /** Human description without credentials, e.g. "direct" or "http://egress.example:3128". */
  describe: string;
  close(): Promise<void>;
}

export function createEgress(opts: EgressOptions): Egress {
  const connect = buildConnector({ ...(opts.tls as object), timeout: opts.connectTimeout } as buildConnector.BuildOptions);
  return { connect, describe: 'direct', close: async () => {} };
}
