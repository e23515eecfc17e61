/**
 * The transform planner driven directly with an in-memory sink: every case of issue #5 without a
 * relay in between. Outputs are decoded with sharp to prove they really are JPEG.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { gzipSync, brotliCompressSync, deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { captureLog, inspect, makeJpeg, makePng, memorySink, planner, pngHeaderOnly, runResponse, sessionContext, withTimeout } from './helpers.js';
import type { TransformPlanner } from '../../src/transforms/types.js';
import { compileTransforms } from '../../src/transforms/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const JSON_HEADERS = { 'content-type': 'application/json' };

let png: Buffer; // 16×16, fully transparent
let opaquePng: Buffer;
let jpeg: Buffer;
let plan: TransformPlanner;

beforeAll(async () => {
  png = await makePng(16, 16, { r: 255, g: 0, b: 0, alpha: 0 });
  opaquePng = await makePng(16, 16, { r: 0, g: 0, b: 255, alpha: 1 });
  jpeg = await makeJpeg(16, 16);
  plan = await planner([{ 'png-to-jpeg': {} }]);
});

function contentLengthMatches(headers: Record<string, unknown>, body: Buffer): void {
  expect(headers['content-length']).toBe(String(body.length));
}

const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 4);

describe('png-to-jpeg on JSON', () => {
  it('FusionBrain result.files[]: transparent pixels become the background colour', async () => {
    const p = await planner([{ 'png-to-jpeg': { background: '#336699' } }]);
    const body = { uuid: 'u-1', status: 'DONE', result: { files: [png.toString('base64')], censored: false }, generationTime: 12 };
    const { sink, logs } = await runResponse(p, 200, { ...JSON_HEADERS, etag: '"abc"', 'content-md5': 'xyz', 'content-length': '999' }, [Buffer.from(JSON.stringify(body))]);
    const out = JSON.parse(sink.body().toString());
    expect(out).toMatchObject({ uuid: 'u-1', status: 'DONE', result: { censored: false }, generationTime: 12 });
    const img = await inspect(Buffer.from(out.result.files[0], 'base64'));
    expect(img.format).toBe('jpeg');
    expect([img.width, img.height]).toEqual([16, 16]);
    expect(near(img.pixel, [0x33, 0x66, 0x99])).toBe(true);
    contentLengthMatches(sink.headers, sink.body());
    expect(sink.headers.etag).toBeUndefined();
    expect(sink.headers['content-md5']).toBeUndefined();
    expect(sink.headers['content-type']).toBe('application/json');
    expect(logs.warnings()).toEqual([]);
  });

  it('default background is white; quality is applied', async () => {
    const { sink } = await runResponse(plan, 200, JSON_HEADERS, [Buffer.from(JSON.stringify({ result: { files: [png.toString('base64')] } }))]);
    const img = await inspect(Buffer.from(JSON.parse(sink.body().toString()).result.files[0], 'base64'));
    expect(near(img.pixel, [255, 255, 255])).toBe(true);
    const low = await planner([{ 'png-to-jpeg': { quality: 5 } }]);
    const big = await makeNoisyPng(64);
    const hi = await runResponse(plan, 200, { 'content-type': 'image/png' }, [big]);
    const lo = await runResponse(low, 200, { 'content-type': 'image/png' }, [big]);
    expect(lo.sink.body().length).toBeLessThan(hi.sink.body().length);
  });

  it('OpenAI data[].b64_json, with output_format png → jpeg', async () => {
    const body = { created: 1713833628, data: [{ b64_json: opaquePng.toString('base64'), revised_prompt: 'a cat' }, { b64_json: png.toString('base64') }], background: 'opaque', output_format: 'png', usage: { total_tokens: 100 } };
    const { sink } = await runResponse(plan, 200, { 'content-type': 'application/json; charset=utf-8' }, [Buffer.from(JSON.stringify(body))]);
    const out = JSON.parse(sink.body().toString());
    expect(out.output_format).toBe('jpeg');
    expect(out.data[0].revised_prompt).toBe('a cat');
    expect(out.usage).toEqual({ total_tokens: 100 });
    for (const d of out.data) expect((await inspect(Buffer.from(d.b64_json, 'base64'))).format).toBe('jpeg');
    expect(near((await inspect(Buffer.from(out.data[0].b64_json, 'base64'))).pixel, [0, 0, 255])).toBe(true);
    contentLengthMatches(sink.headers, sink.body());
  });

  it('Gemini inlineData / inline_data: data converted, mimeType updated, text parts untouched', async () => {
    const body = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'Here you go' }, { inlineData: { mimeType: 'image/png', data: png.toString('base64') } }, { inline_data: { mime_type: 'image/png', data: opaquePng.toString('base64') } }] }, finishReason: 'STOP' }],
      usageMetadata: { totalTokenCount: 29 },
    };
    const { sink } = await runResponse(plan, 200, JSON_HEADERS, [Buffer.from(JSON.stringify(body, null, 2))]);
    const out = JSON.parse(sink.body().toString());
    const parts = out.candidates[0].content.parts;
    expect(parts[0]).toEqual({ text: 'Here you go' });
    expect(parts[1].inlineData.mimeType).toBe('image/jpeg');
    expect(parts[2].inline_data.mime_type).toBe('image/jpeg');
    expect((await inspect(Buffer.from(parts[1].inlineData.data, 'base64'))).format).toBe('jpeg');
    expect((await inspect(Buffer.from(parts[2].inline_data.data, 'base64'))).format).toBe('jpeg');
    expect(out.usageMetadata).toEqual({ totalTokenCount: 29 });
    contentLengthMatches(sink.headers, sink.body());
  });

  it('data: URLs anywhere keep their form with the new type', async () => {
    const url = `data:image/png;base64,${png.toString('base64')}`;
    const body = { choices: [{ message: { content: 'x', images: [{ type: 'image_url', image_url: { url } }] } }] };
    const { sink } = await runResponse(plan, 200, JSON_HEADERS, [Buffer.from(JSON.stringify(body))]);
    const out = JSON.parse(sink.body().toString());
    const got: string = out.choices[0].message.images[0].image_url.url;
    expect(got.startsWith('data:image/jpeg;base64,')).toBe(true);
    expect((await inspect(Buffer.from(got.slice('data:image/jpeg;base64,'.length), 'base64'))).format).toBe('jpeg');
    contentLengthMatches(sink.headers, sink.body());
  });

  it('fields: narrows the search to the listed paths', async () => {
    const p = await planner([{ 'png-to-jpeg': { fields: ['result.files[]'] } }]);
    const body = { result: { files: [png.toString('base64')] }, data: [{ b64_json: png.toString('base64') }] };
    const { sink } = await runResponse(p, 200, JSON_HEADERS, [Buffer.from(JSON.stringify(body))]);
    const out = JSON.parse(sink.body().toString());
    expect((await inspect(Buffer.from(out.result.files[0], 'base64'))).format).toBe('jpeg');
    expect(out.data[0].b64_json).toBe(png.toString('base64'));
  });

  for (const [name, encode] of [
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
    ['deflate', deflateSync],
  ] as const) {
    it(`${name}-compressed JSON is decoded, converted and sent uncompressed`, async () => {
      const json = Buffer.from(JSON.stringify({ data: [{ b64_json: png.toString('base64') }], output_format: 'png' }));
      const enc = encode(json);
      const { sink } = await runResponse(plan, 200, { ...JSON_HEADERS, 'content-encoding': name, 'content-length': String(enc.length), vary: 'Accept-Encoding' }, [enc.subarray(0, 10), enc.subarray(10)]);
      expect(sink.headers['content-encoding']).toBeUndefined();
      const out = JSON.parse(sink.body().toString());
      expect(out.output_format).toBe('jpeg');
      expect((await inspect(Buffer.from(out.data[0].b64_json, 'base64'))).format).toBe('jpeg');
      contentLengthMatches(sink.headers, sink.body());
    });
  }

  it('JSON with no PNG (FusionBrain already JPEG) is sent byte for byte with its original headers', async () => {
    const raw = Buffer.from(JSON.stringify({ result: { files: [jpeg.toString('base64')] } }, null, 2));
    const gz = gzipSync(raw);
    const headers = { ...JSON_HEADERS, 'content-encoding': 'gzip', etag: '"e1"', 'content-length': String(gz.length) };
    const { sink, logs } = await runResponse(plan, 200, headers, [gz]);
    expect(sink.body().equals(gz)).toBe(true);
    expect(sink.headers).toEqual(headers);
    expect(logs.warnings()).toEqual([]);
  });

  it('a corrupt PNG inside JSON is left untouched with exactly one warning; a good one beside it converts', async () => {
    const corrupt = Buffer.concat([opaquePng.subarray(0, 40), Buffer.alloc(40, 7)]);
    const body = { data: [{ b64_json: corrupt.toString('base64') }, { b64_json: png.toString('base64') }] };
    const { sink, logs } = await runResponse(plan, 200, JSON_HEADERS, [Buffer.from(JSON.stringify(body))]);
    const out = JSON.parse(sink.body().toString());
    expect(out.data[0].b64_json).toBe(corrupt.toString('base64'));
    expect((await inspect(Buffer.from(out.data[1].b64_json, 'base64'))).format).toBe('jpeg');
    expect(logs.warnings()).toHaveLength(1);
    expect(JSON.stringify(logs.warnings()[0])).toContain('data[0].b64_json');
  });
});

async function makeNoisyPng(size: number): Promise<Buffer> {
  const { loadSharp } = await import('../../src/native/sharp-loader.js');
  const sharp = await loadSharp();
  const raw = Buffer.alloc(size * size * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919) % 251;
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

describe('png-to-jpeg on binary bodies', () => {
  it('image/png becomes image/jpeg with the right Content-Length', async () => {
    const { sink } = await runResponse(plan, 200, { 'content-type': 'image/png', 'content-length': String(png.length), etag: '"p"' }, [png.subarray(0, 5), png.subarray(5)]);
    expect(sink.headers['content-type']).toBe('image/jpeg');
    expect(sink.headers.etag).toBeUndefined();
    contentLengthMatches(sink.headers, sink.body());
    const img = await inspect(sink.body());
    expect(img.format).toBe('jpeg');
    expect(near(img.pixel, [255, 255, 255])).toBe(true);
  });

  it('the type is sniffed, not trusted: a PNG sent as octet-stream or with no type converts', async () => {
    for (const headers of [{ 'content-type': 'application/octet-stream' }, {}] as Record<string, string>[]) {
      const { sink } = await runResponse(plan, 200, headers, [png]);
      expect((await inspect(sink.body())).format).toBe('jpeg');
      expect(sink.headers['content-type']).toBe('image/jpeg');
    }
  });

  it('a JPEG labelled image/png is streamed through untouched as soon as its first bytes are seen', async () => {
    const logs = captureLog();
    const sink = memorySink();
    const session = plan({ status: 200, headers: { 'content-type': 'image/png', 'content-length': String(jpeg.length) } }, sink, sessionContext(logs.log));
    expect(session).not.toBeNull();
    session!.data(jpeg.subarray(0, 100));
    // Not collected: the head and the first bytes are out before the body ends.
    expect(sink.status).toBe(200);
    expect(sink.body().length).toBe(100);
    session!.data(jpeg.subarray(100));
    session!.end();
    await withTimeout(sink.done, 5000, 'end');
    expect(sink.body().equals(jpeg)).toBe(true);
    expect(sink.headers['content-type']).toBe('image/png');
    expect(logs.warnings()).toEqual([]);
  });

  it('a corrupt PNG is sent untouched with exactly one warning', async () => {
    const corrupt = Buffer.concat([opaquePng.subarray(0, 60), Buffer.alloc(30, 1)]);
    const { sink, logs } = await runResponse(plan, 200, { 'content-type': 'image/png', 'content-length': String(corrupt.length) }, [corrupt]);
    expect(sink.body().equals(corrupt)).toBe(true);
    expect(sink.headers['content-type']).toBe('image/png');
    expect(sink.headers['content-length']).toBe(String(corrupt.length));
    expect(logs.warnings()).toHaveLength(1);
  });

  it('a 20000×20000 PNG (tiny on disk) is left untouched with a warning, before decoding', async () => {
    const bomb = pngHeaderOnly(20000, 20000);
    expect(bomb.length).toBeLessThan(100);
    const start = performance.now();
    const { sink, logs } = await runResponse(plan, 200, { 'content-type': 'image/png' }, [bomb]);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(sink.body().equals(bomb)).toBe(true);
    expect(logs.warnings()).toHaveLength(1);
    expect(JSON.stringify(logs.warnings()[0])).toContain('20000x20000 exceeds maxPixels');
    // Inside JSON too.
    const json = await runResponse(plan, 200, JSON_HEADERS, [Buffer.from(JSON.stringify({ result: { files: [bomb.toString('base64')] } }))]);
    expect(JSON.parse(json.sink.body().toString()).result.files[0]).toBe(bomb.toString('base64'));
    expect(json.logs.warnings()).toHaveLength(1);
  });

  it('maxPixels is configurable', async () => {
    const p = await planner([{ 'png-to-jpeg': { maxPixels: 100 } }]);
    const { sink, logs } = await runResponse(p, 200, { 'content-type': 'image/png' }, [png]);
    expect(sink.body().equals(png)).toBe(true);
    expect(logs.warnings()).toHaveLength(1);
  });

  it('errors and non-2xx, HTML, and bodiless statuses are not touched (planner declines)', async () => {
    expect((await runResponse(plan, 400, JSON_HEADERS, [])).planned).toBe(false);
    expect((await runResponse(plan, 200, { 'content-type': 'text/html' }, [])).planned).toBe(false);
    expect((await runResponse(plan, 204, {}, [])).planned).toBe(false);
    expect((await runResponse(plan, 206, { 'content-type': 'image/png' }, [])).planned).toBe(false);
  });
});

describe('maxTransformSize', () => {
  it('a body that grows past the cap is sent whole and untouched with the original headers, one warning', async () => {
    const p = await planner([{ 'png-to-jpeg': {} }], { maxTransformSize: 1000 });
    const body = Buffer.from(JSON.stringify({ result: { files: [png.toString('base64')] }, pad: 'x'.repeat(3000) }));
    const headers = { ...JSON_HEADERS, etag: '"keep"' };
    const chunks = [body.subarray(0, 600), body.subarray(600, 1200), body.subarray(1200)];
    const { sink, logs } = await runResponse(p, 200, headers, chunks);
    expect(sink.body().equals(body)).toBe(true);
    expect(sink.headers).toEqual(headers);
    expect(logs.warnings()).toHaveLength(1);
    expect(logs.warnings()[0]!.msg).toMatch(/maxTransformSize/);
  });

  it('a declared Content-Length over the cap is not collected at all', async () => {
    const p = await planner([{ 'png-to-jpeg': {} }], { maxTransformSize: 1000 });
    const logs = captureLog();
    const session = p({ status: 200, headers: { ...JSON_HEADERS, 'content-length': '5000' } }, memorySink(), sessionContext(logs.log));
    expect(session).toBeNull();
    expect(logs.warnings()).toHaveLength(1);
  });

  it('a gzip bomb stops at the cap while decoding and is sent untouched', async () => {
    const p = await planner([{ 'png-to-jpeg': {} }], { maxTransformSize: 64 * 1024 });
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(20 * 1024 * 1024, 0x41), Buffer.from('"}')]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const headers = { ...JSON_HEADERS, 'content-encoding': 'gzip' };
    const { sink, logs } = await runResponse(p, 200, headers, [bomb]);
    expect(sink.body().equals(bomb)).toBe(true);
    expect(sink.headers['content-encoding']).toBe('gzip');
    expect(logs.warnings()).toHaveLength(1);
  });

  it('an encoding the relay cannot decode passes untouched with a warning', async () => {
    const logs = captureLog();
    expect(plan({ status: 200, headers: { ...JSON_HEADERS, 'content-encoding': 'zstd' } }, memorySink(), sessionContext(logs.log))).toBeNull();
    expect(logs.warnings()).toHaveLength(1);
  });
});

describe('server-sent events (Gemini streamGenerateContent?alt=sse)', () => {
  const SSE = { 'content-type': 'text/event-stream' };
  const ev = (obj: unknown) => `data: ${JSON.stringify(obj)}\r\n\r\n`;
  const imageEvent = (b64: string) => ev({ candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png', data: b64 } }], role: 'model' } }], modelVersion: 'gemini-img' });

  it('the first converted event is written before the upstream sends the last one', async () => {
    const logs = captureLog();
    const sink = memorySink();
    const session = plan({ status: 200, headers: { ...SSE, 'content-length': '123' } }, sink, sessionContext(logs.log))!;
    expect(sink.status).toBe(200); // head at once
    expect(sink.headers['content-length']).toBeUndefined();
    const first = Buffer.from(ev({ candidates: [{ content: { parts: [{ text: 'Drawing' }] } }] }) + ': keep-alive\r\n\r\n' + imageEvent(png.toString('base64')));
    // Split inside the big line and inside a CRLF.
    for (const cut of [first.subarray(0, 50), first.subarray(50, 300), first.subarray(300, first.length - 3), first.subarray(first.length - 3)]) session.data(cut);
    await sink.until((b) => b.toString().includes('image/jpeg'));
    expect(sink.ended).toBe(false);
    const soFar = sink.body().toString();
    expect(soFar.startsWith('data: {"candidates":[{"content":{"parts":[{"text":"Drawing"}]}}]}\r\n\r\n: keep-alive\r\n\r\n')).toBe(true);
    // Now the last event arrives.
    session.data(Buffer.from(ev({ candidates: [{ content: { parts: [{ text: 'done' }] }, finishReason: 'STOP' }], usageMetadata: { totalTokenCount: 9 } })));
    session.end();
    await withTimeout(sink.done, 10_000, 'stream end');
    const events = sink.body().toString().split('\r\n\r\n').filter(Boolean);
    expect(events).toHaveLength(4);
    const img = JSON.parse(events[2]!.slice('data: '.length));
    const part = img.candidates[0].content.parts[0].inlineData;
    expect(part.mimeType).toBe('image/jpeg');
    expect((await inspect(Buffer.from(part.data, 'base64'))).format).toBe('jpeg');
    expect(JSON.parse(events[3]!.slice(6)).candidates[0].finishReason).toBe('STOP');
    expect(logs.warnings()).toEqual([]);
  });

  it('keeps order when a later text event is ready before an earlier image event', async () => {
    const { sink } = await runResponse(plan, 200, SSE, [Buffer.from(imageEvent(opaquePng.toString('base64')) + ev({ n: 2 }) + 'event: ping\ndata: not json\n\n' + imageEvent(png.toString('base64')) + ev({ n: 5 }))]);
    const text = sink.body().toString();
    const order = [...text.matchAll(/"n":(\d)|image\/jpeg|not json/g)].map((m) => m[1] ?? m[0]);
    expect(order).toEqual(['image/jpeg', '2', 'not json', 'image/jpeg', '5']);
    expect(text).toContain('event: ping\ndata: not json\n\n');
  });

  it('an OpenAI image stream event gets b64_json converted and output_format updated; [DONE] passes', async () => {
    const e = `event: image_generation.completed\ndata: ${JSON.stringify({ type: 'image_generation.completed', b64_json: png.toString('base64'), output_format: 'png' })}\n\ndata: [DONE]\n\n`;
    const { sink } = await runResponse(plan, 200, SSE, [Buffer.from(e)]);
    const [first, second] = sink.body().toString().split('\n\n');
    expect(first!.startsWith('event: image_generation.completed\ndata: ')).toBe(true);
    const obj = JSON.parse(first!.split('\n')[1]!.slice(6));
    expect(obj.output_format).toBe('jpeg');
    expect((await inspect(Buffer.from(obj.b64_json, 'base64'))).format).toBe('jpeg');
    expect(second).toBe('data: [DONE]');
  });

  it('a text-only stream comes out byte for byte', async () => {
    const text = 'data: {"a":"é"}\r\n\r\n: c\r\n\r\nretry: 10\ndata: {"b":[1,2]}\n\ndata: partial';
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    const { sink } = await runResponse(plan, 200, SSE, chunks);
    expect(sink.body().equals(bytes)).toBe(true);
  });

  it('a gzip-encoded event stream is decoded on the fly', async () => {
    const raw = Buffer.from(imageEvent(png.toString('base64')) + ev({ n: 2 }));
    const gz = gzipSync(raw);
    const { sink } = await runResponse(plan, 200, { ...SSE, 'content-encoding': 'gzip' }, [gz.subarray(0, 30), gz.subarray(30)]);
    expect(sink.headers['content-encoding']).toBeUndefined();
    expect(sink.body().toString()).toContain('image/jpeg');
    expect(sink.body().toString()).toContain('{"n":2}');
  });

  it('pauses the upstream while events wait for a slow client, and resumes it', async () => {
    const logs = captureLog();
    let drain: (() => void) | undefined;
    const sink = memorySink();
    let writes = 0;
    sink.write = function (chunk) {
      this.writes.push({ at: performance.now(), chunk });
      writes++;
      return false; // client never keeps up until drained
    };
    sink.onDrain = (cb) => void (drain = cb);
    const ctx = sessionContext(logs.log);
    const session = plan({ status: 200, headers: SSE }, sink, ctx)!;
    const big = ev({ pad: 'z'.repeat(600 * 1024) });
    session.data(Buffer.from(big));
    await new Promise((r) => setImmediate(r));
    expect(writes).toBe(1);
    expect(session.data(Buffer.from(big + big))).toBe(false); // queued past the high-water mark
    expect(ctx.resumes).toBe(0);
    for (let i = 0; i < 3 && drain; i++) {
      const d = drain;
      drain = undefined;
      d();
      await new Promise((r) => setImmediate(r));
    }
    expect(ctx.resumes).toBeGreaterThanOrEqual(1);
    expect(writes).toBe(3);
  });
});

describe('plugins', () => {
  const example = join(here, '../../examples/transforms');

  it('loads a module relative to the config dir and passes options', async () => {
    const p = await planner([{ module: './redact-emails.mjs', options: { replacement: '[email]' } }], { configDir: example });
    const body = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'write to ann@example.com or bob@test.org' } }] }));
    const { sink } = await runResponse(p, 200, { ...JSON_HEADERS, 'content-length': String(body.length) }, [body]);
    expect(JSON.parse(sink.body().toString()).choices[0].message.content).toBe('write to [email] or [email]');
    expect(sink.headers['x-redacted-emails']).toBe('2');
    contentLengthMatches(sink.headers, sink.body());
  });

  it('runs per event on an SSE stream', async () => {
    const p = await planner([{ module: './redact-emails.mjs', options: { replacement: '[email]' } }], { configDir: example });
    const { sink } = await runResponse(p, 200, { 'content-type': 'text/event-stream' }, [Buffer.from('data: {"d":"x@y.com"}\n\ndata: [DONE]\n\n')]);
    expect(sink.body().toString()).toBe('data: {"d":"[email]"}\n\ndata: [DONE]\n\n');
  });

  it('chains with png-to-jpeg in order', async () => {
    const p = await planner([{ 'png-to-jpeg': {} }, { module: './redact-emails.mjs' }], { configDir: example });
    const body = Buffer.from(JSON.stringify({ user: 'a@b.io', data: [{ b64_json: png.toString('base64') }] }));
    const { sink } = await runResponse(p, 200, JSON_HEADERS, [body]);
    const out = JSON.parse(sink.body().toString());
    expect(out.user).toBe('[redacted]');
    expect((await inspect(Buffer.from(out.data[0].b64_json, 'base64'))).format).toBe('jpeg');
  });

  it('a broken plugin fails at compile time naming its file', async () => {
    const dir = join(here, 'fixtures');
    const opts = { route: { name: 'r', prefix: '/r', upstream: 'http://x' }, configDir: dir, maxTransformSize: 1000, log: captureLog().log };
    await expect(compileTransforms([{ module: './no-transform.mjs', options: {}, timeout: 1000 }], opts)).rejects.toThrow(`transform module ${join(dir, 'no-transform.mjs')}: \`transform\` must be a function`);
    await expect(compileTransforms([{ module: './syntax-error.mjs', options: {}, timeout: 1000 }], opts)).rejects.toThrow(join(dir, 'syntax-error.mjs'));
    await expect(compileTransforms([{ module: './missing.mjs', options: {}, timeout: 1000 }], opts)).rejects.toThrow(`transform module ${join(dir, 'missing.mjs')}: cannot be loaded`);
  });

  it('a plugin that throws, or times out, leaves the original response and logs one warning', async () => {
    const dir = join(here, 'fixtures');
    const body = Buffer.from('{"a":1}');
    for (const [mod, timeout] of [['./throws.mjs', '5s'], ['./slow.mjs', '50ms']] as const) {
      const p = await planner([{ module: mod, timeout }], { configDir: dir });
      const headers = { ...JSON_HEADERS, etag: '"orig"' };
      const { sink, logs } = await runResponse(p, 200, headers, [body]);
      expect(sink.body().equals(body)).toBe(true);
      expect(sink.headers).toEqual(headers);
      expect(logs.warnings()).toHaveLength(1);
      expect(JSON.stringify(logs.warnings()[0])).toMatch(mod === './throws.mjs' ? /boom from plugin/ : /took longer than 50 ms/);
    }
  });
});

describe('concurrency and aborts', () => {
  it('images in one body convert concurrently, never past the process-wide cap', async () => {
    const { conversionSlots, setConversionConcurrency } = await import('../../src/transforms/semaphore.js');
    // Three at once whatever this machine's CPU count (the default leaves one CPU free).
    setConversionConcurrency(3);
    const slots = conversionSlots();
    const img = (await makeNoisyPng(256)).toString('base64');
    const body = Buffer.from(JSON.stringify({ data: Array.from({ length: 8 }, () => ({ b64_json: img })) }));
    let peakActive = 0;
    let peakWaiting = 0;
    let polling = true;
    const poll = () => {
      peakActive = Math.max(peakActive, slots.active);
      peakWaiting = Math.max(peakWaiting, slots.waiting);
      if (polling) setImmediate(poll);
    };
    poll();
    const { sink } = await runResponse(plan, 200, JSON_HEADERS, [body]);
    polling = false;
    expect(peakActive).toBeLessThanOrEqual(slots.size);
    expect(peakActive).toBe(Math.min(slots.size, 8));
    if (slots.size < 8) expect(peakWaiting).toBeGreaterThan(0);
    const out = JSON.parse(sink.body().toString());
    for (const d of out.data) expect(d.b64_json.startsWith('/9j/')).toBe(true); // JPEG SOI in base64
    expect(slots.active).toBe(0);
    setConversionConcurrency(undefined);
  });

  it('a client that leaves stops an event stream: nothing more is written', async () => {
    const logs = captureLog();
    const sink = memorySink();
    const ac = new AbortController();
    const session = plan({ status: 200, headers: { 'content-type': 'text/event-stream' } }, sink, sessionContext(logs.log, ac.signal))!;
    session.data(Buffer.from(`data: ${JSON.stringify({ b64_json: png.toString('base64') })}\n\n`));
    ac.abort();
    session.data(Buffer.from('data: {"n":2}\n\n'));
    session.end();
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.body().length).toBe(0);
    expect(sink.ended).toBe(false);
    expect(logs.warnings()).toEqual([]);
  });
});
