/**
 * Usage read from every API shape, non-stream and stream, through a real relay: the access log
 * says `usage: {input, output, total}` and ai_relay_tokens_total counts it. Gemini's running
 * total must be taken once (the last), never summed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { waitFor } from '../helpers/sse.js';
import { startFakeApis, type FakeUpstream } from './fake-apis.js';

let up: FakeUpstream;
let relay: TestRelay;
let seq = 0;

beforeAll(async () => {
  up = await startFakeApis();
  relay = await startTestRelay(`
server:
  metricsPath: /metrics
clients:
  web: tok-web-usage-1
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}
    auth: [web]
  - name: quiet
    prefix: /quiet
    upstream: ${up.url}
    auth: [web]
    usage: none
`);
});
afterAll(async () => {
  await relay.close();
  await up.close();
});

/** Sends a request, reads the whole answer, and returns the access log line's usage. */
async function usageOf(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ usage: unknown; text: string; status: number }> {
  const id = `u-${++seq}`;
  const res = await fetch(relay.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-proxy-token': 'tok-web-usage-1', 'x-request-id': id, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let line: Record<string, unknown> | undefined;
  await waitFor(() => (line = relay.lines().find((l) => l.req_id === id && typeof l.status === 'number')) !== undefined, 2000, `access line ${id}`);
  return { usage: line!.usage, text, status: res.status };
}

describe('usage from each API shape', () => {
  it('OpenAI chat, non-stream', async () => {
    expect((await usageOf('/api/v1/chat/completions', { model: 'gpt-4o-mini', messages: [] })).usage).toEqual({ input: 11, output: 7, total: 18 });
  });
  it('OpenAI chat, gzip-compressed JSON', async () => {
    const r = await usageOf('/api/v1/chat/completions?gzip=1', { model: 'gpt-4o-mini', messages: [] }, { 'accept-encoding': 'gzip' });
    expect(r.usage).toEqual({ input: 11, output: 7, total: 18 });
  });
  it('OpenAI chat, stream with include_usage (the chunk with choices: [])', async () => {
    const r = await usageOf('/api/v1/chat/completions', { model: 'gpt-4o-mini', messages: [], stream: true, stream_options: { include_usage: true } });
    expect(r.usage).toEqual({ input: 11, output: 7, total: 18 });
    expect(r.text).toContain('"choices":[],"usage"'); // unbudgeted route: the client's chunk stays
  });
  it('OpenAI chat stream without include_usage on an unbudgeted route: no usage, nothing injected', async () => {
    const before = up.requests.length;
    const r = await usageOf('/api/v1/chat/completions', { model: 'gpt-4o-mini', messages: [], stream: true });
    expect(r.usage).toBeUndefined();
    expect(JSON.parse(up.requests[before]!.body.toString())).not.toHaveProperty('stream_options');
  });
  it('OpenAI Responses: response.completed and response.incomplete, and non-stream', async () => {
    expect((await usageOf('/api/v1/responses', { model: 'gpt-4.1', input: 'hi', stream: true })).usage).toEqual({ input: 20, output: 5, total: 25 });
    expect((await usageOf('/api/v1/responses', { model: 'gpt-4.1', input: 'hi', stream: true, incomplete: true })).usage).toEqual({ input: 20, output: 5, total: 25 });
    expect((await usageOf('/api/v1/responses', { model: 'gpt-4.1', input: 'hi' })).usage).toEqual({ input: 20, output: 5, total: 25 });
  });
  it('embeddings (no output tokens)', async () => {
    expect((await usageOf('/api/v1/embeddings', { model: 'text-embedding-3-small', input: 'x' })).usage).toEqual({ input: 8, output: 0, total: 8 });
  });
  it('images: usage when the model reports it, none otherwise', async () => {
    expect((await usageOf('/api/v1/images/generations', { model: 'gpt-image-1', prompt: 'x' })).usage).toEqual({ input: 50, output: 4160, total: 4210 });
    expect((await usageOf('/api/v1/images/generations', { model: 'dall-e-3', prompt: 'x' })).usage).toBeUndefined();
  });
  it('answers over the 1 MB read limit: usage from the end (OpenAI image JSON, a Gemini SSE image event)', async () => {
    expect((await usageOf('/api/v1/images/generations', { model: 'gpt-image-1', prompt: 'x', size: 'huge' })).usage).toEqual({ input: 50, output: 6240, total: 6290 });
    const r = await usageOf('/api/v1beta/models/m:streamGenerateContent?alt=sse&image=1', { contents: [] });
    expect(r.text.length).toBeGreaterThan(1_600_000);
    expect(r.usage).toEqual({ input: 10, output: 1290, total: 1300 });
  });
  it('Gemini generateContent (thoughts count as output)', async () => {
    expect((await usageOf('/api/v1beta/models/m:generateContent', { contents: [] })).usage).toEqual({ input: 10, output: 12, total: 22 });
  });
  it('Gemini stream, SSE (?alt=sse, CRLF, events split across reads): the running total taken once', async () => {
    const r = await usageOf('/api/v1beta/models/m:streamGenerateContent?alt=sse', { contents: [] });
    expect(r.text.split('usageMetadata').length - 1).toBe(3);
    expect(r.usage).toEqual({ input: 10, output: 12, total: 22 }); // summing would give 30 / 28 / 58
  });
  it('Gemini stream, JSON array form', async () => {
    expect((await usageOf('/api/v1beta/models/m:streamGenerateContent', { contents: [] })).usage).toEqual({ input: 10, output: 12, total: 22 });
  });
  it('Anthropic Messages: message_start input (cache included) + the last message_delta output', async () => {
    expect((await usageOf('/api/v1/messages', { model: 'claude', stream: true, max_tokens: 100, messages: [] })).usage).toEqual({ input: 30, output: 15, total: 45 });
    expect((await usageOf('/api/v1/messages', { model: 'claude', max_tokens: 100, messages: [] })).usage).toEqual({ input: 12, output: 6, total: 18 });
  });
  it('GigaChat (OpenAI shape; stream usage on the last content chunk)', async () => {
    expect((await usageOf('/api/gigachat/chat/completions', { model: 'GigaChat', messages: [], stream: true })).usage).toEqual({ input: 30, output: 4, total: 34 });
    expect((await usageOf('/api/gigachat/chat/completions', { model: 'GigaChat', messages: [] })).usage).toEqual({ input: 30, output: 4, total: 34 });
  });
  it('usage: none reads nothing', async () => {
    expect((await usageOf('/quiet/v1/chat/completions', { model: 'gpt-4o-mini', messages: [] })).usage).toBeUndefined();
  });
  it('ai_relay_tokens_total{route,client,kind} counts what was read', async () => {
    const before = await scrape();
    await usageOf('/api/v1/chat/completions', { model: 'gpt-4o-mini', messages: [] });
    const after = await scrape();
    expect(after.input - before.input).toBe(11);
    expect(after.output - before.output).toBe(7);
  });
});

async function scrape(): Promise<{ input: number; output: number }> {
  const text = await (await fetch(relay.url + '/metrics')).text();
  const val = (kind: string) => Number(new RegExp(`ai_relay_tokens_total\\{route="api",client="web",kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { input: val('input'), output: val('output') };
}
