/**
 * One keep-alive undici Pool per upstream origin (+ TLS + egress), made at compile time and shared
 * by refcount, so a config reload keeps warm pools for upstreams that did not change and closes
 * the others once their in-flight exchanges are done.
 */
import { Pool, type Dispatcher } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import { createEgress, type Egress } from './egress.js';

export interface PoolSpec {
  origin: string;
  tls: ConnectionOptions;
  /** Stable identity of the TLS settings (file paths + flags), for sharing decisions. */
  tlsKey: string;
  egress: string;
  connectTimeout: number;
  env: Record<string, string | undefined>;
}

export interface UpstreamPool {
  dispatcher: Dispatcher;
  egress: Egress;
  key: string;
}

interface Entry extends UpstreamPool {
  refs: number;
}

export class PoolRegistry {
  private entries = new Map<string, Entry>();

  acquire(spec: PoolSpec): UpstreamPool {
    const key = `${spec.origin}|${spec.tlsKey}|${spec.egress}|${spec.connectTimeout}`;
    let e = this.entries.get(key);
    if (!e) {
      const egress = createEgress({ proxy: spec.egress, origin: spec.origin, tls: spec.tls, connectTimeout: spec.connectTimeout, env: spec.env });
      const dispatcher = new Pool(spec.origin, {
        connect: egress.connect,
        // Long generations: the per-request timeouts (set by forward.ts) are what count.
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        pipelining: 1,
      });
      e = { dispatcher, egress, key, refs: 0 };
      this.entries.set(key, e);
    }
    e.refs++;
    return e;
  }

  /** Drops one reference; the last one closes the pool gracefully (in-flight requests finish). */
  release(p: UpstreamPool): Promise<void> {
    const e = this.entries.get(p.key);
    if (!e || --e.refs > 0) return Promise.resolve();
    this.entries.delete(p.key);
    return e.dispatcher.close().then(() => e.egress.close());
  }

  async destroyAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.dispatcher.destroy().then(() => e.egress.close()).catch(() => {})));
  }
}
