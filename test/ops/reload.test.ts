/**
 * Config reload in one process (spec §2 SIGHUP semantics, reliability R-33): a stream in flight
 * keeps flowing on the table it started with while new requests use the new one; an invalid config
 * is logged with FILE:LINE:COL and changes nothing; unchanged upstream pools stay warm, unused ones
 * close; rate-limit buckets survive when the route and limit are unchanged; listener changes are
 * reported as needing a restart.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { aiRouteConfig, bodyReader, events, parseExposition, sleep, startSseUpstream, waitFor, type SseUpstream } from './helpers.js';

const env = { WEB: 'tok-web-123456' };

function yaml(upstream: string, key: string, extra = ''): string {
  // The leading blank line is part of the positions the assertions below expect.
  return '\n' + aiRouteConfig(upstream, key, { extra });
}

const auth = { 'x-proxy-token': env.WEB };
const load = (text: string) => () => parseConfigText(text, 'test.yaml', { env });

describe('config reload', () => {
  let up: SseUpstream;
  let up2: SseUpstream;
  let relay: TestRelay | undefined;
  beforeAll(async () => {
    up = await startSseUpstream();
    up2 = await startSseUpstream();
  });
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
  });
  afterAll(async () => {
    await up.close();
    await up2.close();
  });

  it('a stream in flight keeps flowing across a reload that changes its key; the next request uses the new key', async () => {
    relay = await startTestRelay(yaml(up.url, 'sk-old-1111'), { env });
    const before = up.auths.length;
    const res = await fetch(`${relay.url}/ai/stream?n=20&every=40`, { headers: auth });
    expect(res.status).toBe(200);
    const body = bodyReader(res);
    await body.until((t) => events(t).length >= 3);

    const oldTable = relay.relay.table();
    await relay.relay.reload(load(yaml(up.url, 'sk-new-2222')));
    expect(relay.relay.table()).not.toBe(oldTable);
    // The stream was not cut and is still being written when the next request runs.
    expect(body.done()).toBe(false);
    const after = await fetch(`${relay.url}/ai/chat`, { method: 'POST', headers: auth, body: '{}' });
    expect(await after.json()).toEqual({ ok: true, auth: 'Bearer sk-new-2222' });
    expect(body.done()).toBe(false);

    const { text, error } = await body.end(5000);
    expect(error).toBeUndefined();
    const evs = events(text) as { i: number; auth: string }[];
    expect(evs.map((e) => e.i)).toEqual([...Array(20).keys()]);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    // At the upstream: the stream was sent with the old key, the request after the reload with the new.
    expect(up.auths.slice(before)).toEqual(['Bearer sk-old-1111', 'Bearer sk-new-2222']);
    expect(relay.logs()).toContain('configuration reloaded');
  });

  it('an invalid reload is logged as FILE:LINE:COL, counted, and changes nothing', async () => {
    relay = await startTestRelay(yaml(up.url, 'sk-keep-3333'), { env });
    const table = relay.relay.table();
    const bad = yaml(up.url, 'sk-bad-4444', '    retries: lots\n    unknownKey: 1\n');
    const err = await relay.relay.reload(load(bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(relay.relay.table()).toBe(table);
    const errors = relay.lines().filter((l) => l.level === 'error').map((l) => String(l.msg));
    // The YAML starts with a blank line: `retries: lots` is line 14 (its value at col 14),
    // `unknownKey` line 15 col 5 — 1-based, as `check` prints them.
    expect(errors[0]).toMatch(/^test\.yaml:14:14 routes\.0\.retries: /);
    expect(errors[1]).toMatch(/^test\.yaml:15:5 unknown key "unknownKey"/);
    expect(errors.some((m) => m.includes('reload rejected'))).toBe(true);
    expect(relay.logs()).not.toContain('sk-bad-4444');

    const r = await fetch(`${relay.url}/ai/chat`, { method: 'POST', headers: auth, body: '{}' });
    expect(await r.json()).toEqual({ ok: true, auth: 'Bearer sk-keep-3333' });
    const m = parseExposition(await (await fetch(`${relay.url}/metrics`)).text());
    expect(m.value('ai_relay_config_reloads_total', { result: 'failed' })).toBe(1);
    expect(m.value('ai_relay_config_reloads_total', { result: 'ok' })).toBe(0);

    // A compile-time failure (a CA file that is not PEM) is rejected the same way. (A CA file
    // that does not exist yet disables the route instead, like an unset variable.)
    const notPem = path.join(mkdtempSync(path.join(tmpdir(), 'ai-relay-ca-')), 'ca.pem');
    writeFileSync(notPem, 'this is not a certificate\n');
    const badCa = yaml(up.url, 'sk-x', `    tls:\n      ca: ${notPem}\n`);
    await expect(relay.relay.reload(load(badCa))).rejects.toBeInstanceOf(ConfigError);
    expect(relay.relay.table()).toBe(table);
    expect(relay.lines().some((l) => l.level === 'error' && /test\.yaml:15:7 route "ai": tls\.ca .* contains no PEM certificate/.test(String(l.msg)))).toBe(true);
  });

  it('an unchanged upstream keeps its warm connection; a dropped one is closed once idle', async () => {
    relay = await startTestRelay(yaml(up.url, 'sk-a'), { env });
    const conns = up.connections();
    expect((await fetch(`${relay.url}/ai/x`, { headers: auth })).status).toBe(200);
    expect(up.connections()).toBe(conns + 1);
    await relay.relay.reload(load(yaml(up.url, 'sk-b')));
    expect(await (await fetch(`${relay.url}/ai/x`, { headers: auth })).json()).toEqual({ ok: true, auth: 'Bearer sk-b' });
    expect(up.connections()).toBe(conns + 1); // the same keep-alive connection served both
    expect(up.open()).toBe(1);

    // Move the route to another upstream: the first one's idle connection is closed.
    await relay.relay.reload(load(yaml(up2.url, 'sk-b')));
    await waitFor(() => up.open() === 0, 3000, 'the unused pool to close its connection');
    expect((await fetch(`${relay.url}/ai/x`, { headers: auth })).status).toBe(200);
    expect(up2.connections()).toBeGreaterThan(0);
  });

  it('a pool dropped by a reload lets its stream finish before closing', async () => {
    relay = await startTestRelay(yaml(up.url, 'sk-a'), { env });
    const res = await fetch(`${relay.url}/ai/stream?n=10&every=40`, { headers: auth });
    const body = bodyReader(res);
    await body.until((t) => events(t).length >= 2);
    await relay.relay.reload(load(yaml(up2.url, 'sk-a')));
    const { text, error } = await body.end(5000);
    expect(error).toBeUndefined();
    expect(events(text)).toHaveLength(10);
    await waitFor(() => up.open() === 0, 3000, 'the old pool to close after the stream');
  });

  it('rate-limit buckets survive a reload when the route and limit are unchanged; a new limit starts fresh', async () => {
    const limit = (n: number) => `    rateLimit:\n      requests: ${n}\n      per: 1m\n`;
    relay = await startTestRelay(yaml(up.url, 'sk-a', limit(2)), { env });
    const hit = async () => (await fetch(`${relay!.url}/ai/x`, { headers: auth })).status;
    expect([await hit(), await hit()]).toEqual([200, 200]);
    // Same route and limit, different key: the bucket is the same one (still empty).
    await relay.relay.reload(load(yaml(up.url, 'sk-b', limit(2))));
    expect(await hit()).toBe(429);
    // The limit changed: a new bucket.
    await relay.relay.reload(load(yaml(up.url, 'sk-b', limit(3))));
    expect(await hit()).toBe(200);
    const m = parseExposition(await (await fetch(`${relay.url}/metrics`)).text());
    expect(m.value('ai_relay_rate_limited_total', { route: 'ai' })).toBe(1);
    expect(m.value('ai_relay_config_reloads_total', { result: 'ok' })).toBe(2);
  });

  it('listener changes are logged as needing a restart; the listener keeps serving as before', async () => {
    relay = await startTestRelay(yaml(up.url, 'sk-a'), { env });
    const moved = yaml(up.url, 'sk-a').replace('server:\n', 'server:\n  host: 127.0.0.2\n  port: 9\n  limits:\n    maxHeaderSize: 8kb\n');
    await relay.relay.reload(load(moved));
    const warn = relay.lines().find((l) => l.level === 'warn' && String(l.msg).includes('restart'));
    // host/port came from the test's overrides (like --host/--port), so only the header limit counts.
    expect(warn?.changed).toEqual(['server.limits.maxHeaderSize']);
    expect((await fetch(`${relay.url}/ai/x`, { headers: auth })).status).toBe(200);
    await sleep(0);
  });
});
