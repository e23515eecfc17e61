/**
 * png-to-jpeg and plugins through the real relay: fake FusionBrain, OpenAI and Gemini upstreams on
 * 127.0.0.1, raw HTTP on the client side so Content-Length is checked as it is on the wire.
 */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { rawRequest } from '../helpers/raw-request.js';
import { gate } from '../helpers/sse.js';
import { inspect, makeJpeg, makePng, withTimeout } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));

let png: Buffer;
let jpeg: Buffer;
let up: FakeUpstream;
let relay: TestRelay;
/** Gemini SSE pacing: the upstream holds its last event until the client saw the image. */
let clientSawImage = gate();
/** True when the client, not the fallback timer, released the last event. */
let releasedByClient = false;

beforeAll(async () => {
  png = await makePng(32, 32, { r: 200, g: 10, b: 10, alpha: 0.5 });
  jpeg = await makeJpeg(32, 32);
  up = await startStreamingUpstream((req, res) => {
    req.resume();
    req.on('end', () => void handle(req, res));
  });
  relay = await startTestRelay(
    `
routes:
  - name: fusionbrain
    prefix: /fusionbrain
    upstream: ${up.url}/fb
    auth: none
    transforms:
      - png-to-jpeg: {}
  - name: openai
    prefix: /openai
    upstream: ${up.url}/oa
    auth: none
    transforms:
      - png-to-jpeg: { quality: 90 }
  - name: gemini
    prefix: /gemini
    upstream: ${up.url}/gm
    auth: none
    transforms:
      - png-to-jpeg: {}
  - name: plain
    prefix: /plain
    upstream: ${up.url}/fb
    auth: none
  - name: custom
    prefix: /custom
    upstream: ${up.url}/custom
    auth: none
    transforms:
      - module: ./redact-emails.mjs
        options: { replacement: "[email]" }
`,
    { dir: join(here, '../../examples/transforms') },
  );
});

afterAll(async () => {
  await relay?.close();
  await up?.close();
});

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '';
  if (url.startsWith('/fb/key/api/v1/pipeline/status/')) {
    const body = JSON.stringify({ uuid: 'abc', status: 'DONE', result: { files: [png.toString('base64')], censored: false }, generationTime: 17 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    return void res.end(body);
  }
  if (url.startsWith('/fb/jpeg')) {
    const body = JSON.stringify({ uuid: 'j', status: 'DONE', result: { files: [jpeg.toString('base64')], censored: false } });
    res.writeHead(200, { 'content-type': 'application/json', etag: '"fb-j"', 'content-length': Buffer.byteLength(body) });
    return void res.end(body);
  }
  if (url === '/oa/v1/images/generations') {
    const body = gzipSync(JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64') }], output_format: 'png', size: '32x32' }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length, etag: '"oa"' });
    return void res.end(body);
  }
  if (url === '/oa/image.png') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
    return void res.end(png);
  }
  if (url.startsWith('/gm/v1beta/models/img:streamGenerateContent')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    const ev = (o: unknown) => `data: ${JSON.stringify(o)}\r\n\r\n`;
    res.write(ev({ candidates: [{ content: { parts: [{ text: 'Here' }], role: 'model' } }] }));
    res.write(ev({ candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png', data: png.toString('base64') } }], role: 'model' } }] }));
    // Bounded: if the relay held the image event back, the test fails on its own assertion.
    releasedByClient = await Promise.race([clientSawImage.wait.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    res.end(ev({ candidates: [{ content: { parts: [{ text: '!' }] }, finishReason: 'STOP' }], usageMetadata: { totalTokenCount: 5 } }));
    return;
  }
  if (url === '/custom/chat') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ choices: [{ message: { content: 'mail me: ann@example.com' } }] }));
  }
  res.writeHead(404);
  res.end();
}

describe('png-to-jpeg through the relay', () => {
  it('FusionBrain status: files[] become JPEG, Content-Length on the wire matches', async () => {
    const r = await rawRequest(relay.url, '/fusionbrain/key/api/v1/pipeline/status/abc');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.headers['transfer-encoding']).toBeUndefined();
    const out = JSON.parse(r.body.toString());
    expect(out).toMatchObject({ uuid: 'abc', status: 'DONE', result: { censored: false }, generationTime: 17 });
    const img = await inspect(Buffer.from(out.result.files[0], 'base64'));
    expect(img.format).toBe('jpeg');
    // 50% red over white.
    expect(img.pixel[0]).toBeGreaterThan(220);
    expect(img.pixel[1]).toBeGreaterThan(110);
    expect(img.pixel[1]).toBeLessThan(150);
  });

  it('the same upstream on a route without transforms is untouched', async () => {
    const r = await rawRequest(relay.url, '/plain/key/api/v1/pipeline/status/abc');
    expect(JSON.parse(r.body.toString()).result.files[0]).toBe(png.toString('base64'));
  });

  it('FusionBrain JPEG result passes byte for byte, ETag kept', async () => {
    const r = await rawRequest(relay.url, '/fusionbrain/jpeg');
    expect(r.headers.etag).toBe('"fb-j"');
    expect(JSON.parse(r.body.toString()).result.files[0]).toBe(jpeg.toString('base64'));
  });

  it('OpenAI images (gzip upstream): b64_json JPEG, output_format jpeg, no Content-Encoding, no ETag', async () => {
    const r = await rawRequest(relay.url, '/openai/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' }, body: '{"model":"gpt-image-1","prompt":"cat"}' });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers.etag).toBeUndefined();
    expect(r.headers['content-length']).toBe(String(r.body.length));
    const out = JSON.parse(r.body.toString());
    expect(out.output_format).toBe('jpeg');
    expect((await inspect(Buffer.from(out.data[0].b64_json, 'base64'))).format).toBe('jpeg');
  });

  it('a binary PNG becomes image/jpeg with the right Content-Length', async () => {
    const r = await rawRequest(relay.url, '/openai/image.png');
    expect(r.headers['content-type']).toBe('image/jpeg');
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect((await inspect(r.body)).format).toBe('jpeg');
  });

  it('Gemini SSE: the converted image event reaches the client before the upstream sends the last one', async () => {
    clientSawImage = gate();
    const received: string[] = [];
    const sawImageAt = await withTimeout(
      new Promise<{ text: string; status: number; type: string | undefined }>((resolve, reject) => {
        const req = http.get(`${relay.url}/gemini/v1beta/models/img:streamGenerateContent?alt=sse`, (res) => {
          let text = '';
          let opened = false;
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            received.push(c);
            if (!opened && text.includes('image/jpeg') && text.split('\r\n\r\n').length >= 3) {
              opened = true;
              // The last event has not been sent yet: the upstream is still waiting on us.
              if (!text.includes('finishReason')) clientSawImage.open();
            }
          });
          res.on('end', () => resolve({ text, status: res.statusCode!, type: res.headers['content-type'] }));
          res.on('error', reject);
        });
        req.on('error', reject);
      }),
      15_000,
      'SSE response',
    );
    expect(releasedByClient).toBe(true);
    expect(sawImageAt.status).toBe(200);
    expect(sawImageAt.type).toContain('text/event-stream');
    const events = sawImageAt.text.split('\r\n\r\n').filter(Boolean);
    expect(events).toHaveLength(3);
    const part = JSON.parse(events[1]!.slice(6)).candidates[0].content.parts[0].inlineData;
    expect(part.mimeType).toBe('image/jpeg');
    expect((await inspect(Buffer.from(part.data, 'base64'))).format).toBe('jpeg');
    expect(JSON.parse(events[2]!.slice(6)).candidates[0].finishReason).toBe('STOP');
  });

  it('a plugin loaded from the config dir rewrites the response', async () => {
    const r = await rawRequest(relay.url, '/custom/chat');
    expect(JSON.parse(r.body.toString()).choices[0].message.content).toBe('mail me: [email]');
    expect(r.headers['x-redacted-emails']).toBe('1');
    expect(r.headers['content-length']).toBe(String(r.body.length));
  });
});

describe('startup', () => {
  it('a broken plugin fails the start with its path', async () => {
    const dir = join(here, 'fixtures');
    await expect(
      startTestRelay(
        `
routes:
  - prefix: /x
    upstream: http://127.0.0.1:9
    auth: none
    transforms:
      - module: ./no-transform.mjs
`,
        { dir },
      ),
    ).rejects.toThrow(join(dir, 'no-transform.mjs'));
  });
});
