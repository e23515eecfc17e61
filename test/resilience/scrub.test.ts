/** Error bodies that echo a configured secret reach the client scrubbed (Gemini echoes a bad key). */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const KEY = 'AIzaSyFAKE-gemini-key-0123456789';

describe('secret scrubbing in upstream error bodies', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      const key = String(req.headers['x-goog-api-key']);
      const body = JSON.stringify({
        error: {
          code: 400,
          message: 'API key not valid. Please pass a valid API key.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: `Invalid API key: ${key}` }],
        },
      });
      if (req.url?.includes('gzip')) {
        const z = gzipSync(body);
        res.writeHead(400, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': z.length });
        return res.end(z);
      }
      if (req.url?.includes('ok')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(`{"note":"a 2xx body is passed as is"}`);
      }
      res.writeHead(400, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(body);
    });
    relay = await startTestRelay(
      `
routes:
  - name: gemini
    prefix: /gemini
    upstream: ${up.url}
    auth: none
    headers:
      set:
        x-goog-api-key: \${GEMINI_API_KEY}
`,
      { env: { GEMINI_API_KEY: KEY } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('a Gemini 400 echoing the key reaches the client with [redacted] and a correct length', async () => {
    const r = await fetch(`${relay.url}/gemini/v1beta/models/gemini-pro:generateContent`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(400);
    const text = await r.text();
    expect(text).not.toContain(KEY);
    expect(text).toContain('Invalid API key: [redacted]');
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text).error.status).toBe('INVALID_ARGUMENT');
    expect(up.requests.at(-1)!.headers['x-goog-api-key']).toBe(KEY); // the upstream did get the key
  });

  it('a gzip-compressed error body is decoded, scrubbed and sent uncompressed', async () => {
    const r = await fetch(`${relay.url}/gemini/gzip`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-encoding')).toBeNull();
    const text = await r.text();
    expect(text).not.toContain(KEY);
    expect(text).toContain('[redacted]');
  });

  it('logs never carry the key', () => {
    expect(relay.logs()).not.toContain(KEY);
  });
});
