/**
 * The metrics endpoint through a real relay: counters move as requests go through, the text parses
 * as Prometheus exposition (strict parser in helpers.ts), names/labels/values are what the docs say,
 * the token protects it, it answers under every base path, and two relays in one process keep
 * separate numbers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { bodyReader, events, parseExposition, startSseUpstream, type SseUpstream } from './helpers.js';

const env = { WEB: 'tok-web-123456', MOBILE: 'tok-mobile-654321', METRICS: 'metrics-secret-777' };

const yaml = (upstream: string, extra = '') => `
server:
  basePaths: ["/", "/r"]
  metricsPath: /metrics
${extra}
clients:
  web: \${WEB}
  mobile: \${MOBILE}
routes:
  - name: ai
    prefix: /ai
    upstream: ${upstream}
    auth: [web, mobile]
    rateLimit: { requests: 3, per: 1m, by: client }
  - name: open
    prefix: /open
    upstream: ${upstream}
    auth: none
`;

describe('metrics', () => {
  let up: SseUpstream;
  let relay: TestRelay;
  let other: TestRelay;
  const scrape = async (base = relay.url, path = '/metrics') => {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  };

  beforeAll(async () => {
    up = await startSseUpstream();
    relay = await startTestRelay(yaml(up.url), { env });
    other = await startTestRelay(yaml(up.url, '  metricsToken: ${METRICS}'), { env });
  });
  afterAll(async () => {
    await relay?.close();
    await other?.close();
    await up?.close();
  });

  it('counts requests by route, status class and client; bytes; latency histograms; 429s', async () => {
    const web = { 'x-proxy-token': env.WEB };
    for (let i = 0; i < 3; i++) expect((await fetch(`${relay.url}/ai/chat`, { method: 'POST', headers: web, body: 'x'.repeat(100) })).status).toBe(200);
    expect((await fetch(`${relay.url}/ai/chat`, { headers: web })).status).toBe(429);
    expect((await fetch(`${relay.url}/r/ai/chat`, { headers: { 'x-proxy-token': env.MOBILE } })).status).toBe(200);
    expect((await fetch(`${relay.url}/ai/chat`)).status).toBe(401);
    expect((await fetch(`${relay.url}/open/x`)).status).toBe(200);
    expect((await fetch(`${relay.url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);

    const m = await scrape();
    expect(m.types.get('ai_relay_requests_total')).toBe('counter');
    expect(m.value('ai_relay_requests_total', { route: 'ai', status_class: '2xx', client: 'web' })).toBe(3);
    expect(m.value('ai_relay_requests_total', { route: 'ai', status_class: '4xx', client: 'web' })).toBe(1);
    expect(m.value('ai_relay_requests_total', { route: 'ai', status_class: '2xx', client: 'mobile' })).toBe(1);
    expect(m.value('ai_relay_requests_total', { route: 'ai', status_class: '4xx', client: '-' })).toBe(1);
    expect(m.value('ai_relay_requests_total', { route: 'open', status_class: '2xx', client: '-' })).toBe(1);
    expect(m.value('ai_relay_requests_total', { route: '-', status_class: '4xx', client: '-' })).toBe(1);
    // The relay's own endpoints (health, this scrape) are not traffic.
    expect(m.sum('ai_relay_requests_total')).toBe(8);
    expect(m.value('ai_relay_rate_limited_total', { route: 'ai' })).toBe(1);
    expect(m.value('ai_relay_request_bytes_total', { route: 'ai' })).toBe(300);
    expect(m.value('ai_relay_response_bytes_total', { route: 'ai' })).toBeGreaterThan(4 * 20);

    // Histograms: 4 exchanges of route ai reached the upstream (3 web + 1 mobile).
    expect(m.types.get('ai_relay_upstream_latency_seconds')).toBe('histogram');
    expect(m.value('ai_relay_upstream_latency_seconds_count', { route: 'ai' })).toBe(4);
    expect(m.value('ai_relay_upstream_latency_seconds_bucket', { route: 'ai', le: '+Inf' })).toBe(4);
    expect(m.value('ai_relay_overhead_seconds_count', { route: 'ai' })).toBe(4);
    expect(m.value('ai_relay_overhead_seconds_bucket', { route: 'ai', le: '0.00005' })).toBeDefined();
    const overheadSum = m.value('ai_relay_overhead_seconds_sum', { route: 'ai' })!;
    expect(overheadSum).toBeGreaterThan(0);
    expect(overheadSum).toBeLessThan(1);
    expect(m.value('ai_relay_exchange_duration_seconds_count', { route: 'ai' })).toBe(6);
    expect(m.value('ai_relay_config_reloads_total', { result: 'ok' })).toBe(0);
    expect(m.value('ai_relay_info', { version: relay.relay.state.version })).toBe(1);
    expect(m.value('ai_relay_process_resident_memory_bytes')).toBeGreaterThan(1e6);

    // Counters only go up.
    await fetch(`${relay.url}/open/y`);
    expect((await scrape()).value('ai_relay_requests_total', { route: 'open', status_class: '2xx', client: '-' })).toBe(2);
  });

  it('open streams: exchanges in flight and SSE responses being streamed', async () => {
    const res = await fetch(`${relay.url}/open/stream?n=20&every=50`);
    const body = bodyReader(res);
    await body.until((t) => events(t).length >= 1);
    const during = await scrape(relay.url, '/r/metrics');
    // The stream, plus the scrape itself.
    expect(during.value('ai_relay_exchanges_in_flight')).toBe(2);
    expect(during.value('ai_relay_sse_streams_open')).toBe(1);
    await body.end(5000);
    const after = await scrape();
    expect(after.value('ai_relay_exchanges_in_flight')).toBe(1);
    expect(after.value('ai_relay_sse_streams_open')).toBe(0);
  });

  it('the functions other modules call show up with their labels', async () => {
    const m0 = relay.relay.metrics;
    m0.transformDone('ai', true, 12);
    m0.transformDone('ai', false, 3);
    m0.tokenFetch('ai', true);
    m0.tokenFetch('ai', false);
    m0.tokenFetch('ai', false);
    m0.keyRested('ai', 1);
    const m = await scrape();
    expect(m.value('ai_relay_transforms_total', { route: 'ai', result: 'ok' })).toBe(1);
    expect(m.value('ai_relay_transforms_total', { route: 'ai', result: 'failed' })).toBe(1);
    expect(m.value('ai_relay_transform_duration_seconds_sum', { route: 'ai' })).toBeCloseTo(0.015, 6);
    expect(m.value('ai_relay_token_fetches_total', { route: 'ai', result: 'failed' })).toBe(2);
    expect(m.value('ai_relay_key_rests_total', { route: 'ai', key: '1' })).toBe(1);
  });

  it('metricsToken: 401 without the bearer token, 200 with it; relays in one process keep separate numbers', async () => {
    const no = await fetch(`${other.url}/metrics`);
    expect(no.status).toBe(401);
    expect(no.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${other.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${other.url}/metrics`, { headers: { authorization: `Bearer ${env.METRICS}` } });
    expect(ok.status).toBe(200);
    const m = parseExposition(await ok.text());
    // `other` has served nothing but these scrapes: the two refused ones count as route-less 4xx.
    expect(m.sum('ai_relay_requests_total')).toBe(2);
    expect(m.value('ai_relay_requests_total', { route: '-', status_class: '4xx', client: '-' })).toBe(2);
    expect(other.logs()).not.toContain(env.METRICS);
  });

  it('metrics are off when metricsPath is omitted', async () => {
    const plain = await startTestRelay(yaml(up.url).replace('  metricsPath: /metrics\n', ''), { env });
    try {
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
