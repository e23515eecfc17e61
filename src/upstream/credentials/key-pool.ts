/**
 * Round-robin key pool. A key answered 401/403/429 rests for `cooldown` (or the upstream's
 * Retry-After); when every key rests the relay answers 429 itself with the shortest rest left.
 */
import type { KeysConfig } from '../../config/schema.js';
import { RelayError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { keyFingerprint } from './fingerprint.js';
import type { CredentialSource, KeyView, Lease } from './types.js';

const REST_STATUSES = new Set([401, 403, 429]);

export interface KeyPoolOptions {
  route: string;
  log: Logger;
  now?: () => number;
  onRest?: (index: number, ms: number) => void;
}

export function createKeyPool(cfg: KeysConfig, opts: KeyPoolOptions): CredentialSource {
  const now = opts.now ?? Date.now;
  const restingUntil = new Array<number>(cfg.values.length).fill(0);
  const values = cfg.values.map((k) => cfg.format.replace('{key}', k));
  const header = cfg.header.toLowerCase();
  const lastError: (KeyView['lastError'])[] = new Array(cfg.values.length).fill(undefined);
  let aliases: string[] | undefined; // hashed on the first dashboard snapshot, not at startup
  let next = 0;

  const makeLease = (i: number): Lease => ({
    header,
    value: values[i]!,
    keyIndex: i,
    report(status, headers) {
      if (!REST_STATUSES.has(status)) return 'ok';
      const ms = retryAfterMs(headers['retry-after'], now()) ?? cfg.cooldown;
      restingUntil[i] = now() + ms;
      lastError[i] = { status, at: now() };
      opts.log.warn({ route: opts.route, key_index: i, status, rest_ms: ms }, `key #${i} of route ${opts.route} answered ${status}; resting ${Math.round(ms / 1000)}s`);
      opts.onRest?.(i, ms);
      return 'retry';
    },
  });

  return {
    kind: 'keys',
    replayLimit: cfg.replayBodySize,
    lease() {
      const t = now();
      for (let n = 0; n < values.length; n++) {
        const i = (next + n) % values.length;
        if (restingUntil[i]! <= t) {
          next = (i + 1) % values.length;
          return makeLease(i);
        }
      }
      const wait = Math.max(1, Math.ceil((Math.min(...restingUntil) - t) / 1000));
      return new RelayError('rate_limited', `every key of route ${opts.route} is resting after 401/403/429; retry in ${wait}s`, { headers: { 'retry-after': String(wait) } });
    },
    problem() {
      const t = now();
      return restingUntil.every((u) => u > t) ? 'every key is resting' : undefined;
    },
    describe() {
      aliases ??= cfg.values.map((k, i) => `#${i} ${keyFingerprint(k)}`);
      const t = now();
      return { kind: 'keys', keys: aliases.map((alias, i) => ({ alias, restingUntil: restingUntil[i]! > t ? restingUntil[i]! : 0, lastError: lastError[i] })) };
    },
    close() {},
  };
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now. */
export function retryAfterMs(v: string | string[] | undefined, now: number): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const d = Date.parse(s);
  return Number.isNaN(d) ? undefined : Math.max(0, d - now);
}
