/**
 * OAuth bearer tokens fetched and cached by the relay (spec §3 `oauth`, §10 "OAuth"):
 * GigaChat's NGW flow or RFC 6749 §4.4 client credentials. One fetch serves any number of
 * concurrent requests (single flight); the token is refreshed `refreshBefore` ahead of expiry and
 * dropped once when the upstream answers 401. The token call uses the route's TLS and egress.
 */
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { OAuthConfig } from '../../config/schema.js';
import { RelayError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { Redactor } from '../../log/redact.js';
import { mapUpstreamError } from '../errors.js';
import type { CredentialSource, Lease } from './types.js';

interface Token {
  value: string;
  expiresAt: number;
}

export interface OAuthOptions {
  route: string;
  dispatcher: Dispatcher;
  egress: string;
  log: Logger;
  redactor: Redactor;
  now?: () => number;
  onFetch?: (ok: boolean) => void;
}

const TOKEN_TIMEOUT = 15_000;
const MAX_TOKEN_BODY = 64 * 1024;
/** Request bodies up to this size are kept to replay a request after a 401. */
export const OAUTH_REPLAY_LIMIT = 1024 * 1024;

export function createOAuthSource(cfg: OAuthConfig, opts: OAuthOptions): CredentialSource {
  const now = opts.now ?? Date.now;
  const url = new URL(cfg.tokenUrl);
  const header = cfg.header.toLowerCase();
  let token: Token | undefined;
  let inflight: Promise<Token> | undefined;
  let lastError: string | undefined;
  let lastRefreshAt: number | undefined;

  const fetchToken = (): Promise<Token> => {
    inflight ??= requestToken(cfg, url, opts)
      .then((t) => {
        if (token) opts.redactor.remove(token.value);
        opts.redactor.add(t.value);
        token = t;
        lastError = undefined;
        lastRefreshAt = now();
        opts.onFetch?.(true);
        opts.log.info({ route: opts.route, expires_in_s: Math.round((t.expiresAt - now()) / 1000) }, `obtained an access token for route ${opts.route}`);
        return t;
      })
      .catch((err: unknown) => {
        lastError = (err as Error).message;
        opts.onFetch?.(false);
        throw err;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  const leaseFor = (t: Token): Lease => ({
    header,
    value: `Bearer ${t.value}`,
    report(status) {
      if (status !== 401) return 'ok';
      // Drop the token only if no newer one replaced it meanwhile.
      if (token === t) token = undefined;
      opts.log.warn({ route: opts.route }, `upstream of route ${opts.route} rejected the access token (401); fetching a new one`);
      return 'retry';
    },
  });

  return {
    kind: 'oauth',
    replayLimit: OAUTH_REPLAY_LIMIT,
    lease() {
      const t = token;
      const n = now();
      if (t && t.expiresAt - n > cfg.refreshBefore) return leaseFor(t);
      if (t && t.expiresAt > n) {
        // Still valid: serve it and refresh in the background.
        fetchToken().catch(() => {});
        return leaseFor(t);
      }
      return fetchToken().then(leaseFor);
    },
    problem: () => (lastError ? `token endpoint failing: ${lastError}` : undefined),
    // The error text was built from the token endpoint's answer: scrubbed like every log line.
    describe: () => ({ kind: 'oauth', expiresAt: token?.expiresAt, lastRefreshAt, lastError: lastError === undefined ? undefined : opts.redactor.scrub(lastError) }),
    close() {
      if (token) opts.redactor.remove(token.value);
    },
  };
}

async function requestToken(cfg: OAuthConfig, url: URL, opts: OAuthOptions): Promise<Token> {
  const form = new URLSearchParams();
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    'user-agent': 'ai-relay',
  };
  if (cfg.type === 'gigachat') {
    headers.authorization = `Basic ${cfg.authorizationKey}`;
    headers.rquid = randomUUID();
    form.set('scope', cfg.scope ?? 'GIGACHAT_API_PERS');
  } else {
    form.set('grant_type', 'client_credentials');
    if (cfg.scope) form.set('scope', cfg.scope);
    if (cfg.audience) form.set('audience', cfg.audience);
    if (cfg.clientAuth === 'basic') {
      const enc = (s: string) => encodeURIComponent(s);
      headers.authorization = `Basic ${Buffer.from(`${enc(cfg.clientId!)}:${enc(cfg.clientSecret!)}`).toString('base64')}`;
    } else {
      form.set('client_id', cfg.clientId!);
      form.set('client_secret', cfg.clientSecret!);
    }
  }
  const where = `token endpoint ${url.origin}${url.pathname}`;
  let res: Dispatcher.ResponseData;
  try {
    res = await opts.dispatcher.request({
      origin: url.origin,
      method: 'POST',
      path: url.pathname + url.search,
      headers,
      body: form.toString(),
      headersTimeout: TOKEN_TIMEOUT,
      bodyTimeout: TOKEN_TIMEOUT,
    });
  } catch (err) {
    const mapped = mapUpstreamError(err, { upstream: url.origin, egress: opts.egress, firstByteTimeout: TOKEN_TIMEOUT, idleTimeout: TOKEN_TIMEOUT, timeout: 0 });
    throw new RelayError('upstream_error', `${where} failed: ${mapped.message}`, { cause: err });
  }
  const text = await readBounded(res.body);
  if (res.statusCode !== 200) {
    throw new RelayError('upstream_error', `${where} failed: it answered ${res.statusCode}${summary(text)}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new RelayError('upstream_error', `${where} failed: the answer is not JSON`);
  }
  const value = (doc.access_token ?? doc.tok) as unknown;
  if (typeof value !== 'string' || !value) throw new RelayError('upstream_error', `${where} failed: no access_token in the answer`);
  let expiresAt: number;
  if (typeof doc.expires_at === 'number') expiresAt = doc.expires_at;
  else if (typeof doc.exp === 'number') expiresAt = doc.exp;
  else if (typeof doc.expires_in === 'number') expiresAt = Date.now() + doc.expires_in * 1000;
  else expiresAt = Date.now() + 30 * 60_000;
  // Some servers send seconds where milliseconds are documented: a year-1970 expiry means seconds.
  if (expiresAt < 1e12) expiresAt *= 1000;
  return { value, expiresAt };
}

async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += (c as Buffer).length;
    if (n > MAX_TOKEN_BODY) {
      body.destroy();
      break;
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function summary(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return t ? `: ${t}` : '';
}
