/**
 * The raw-scan path (json-lift.ts): long strings skip JSON.parse/stringify. It must give exactly
 * what the full parse gives — same slots, same sibling rewrites, same bytes out — on every API
 * shape the built-in knows, and leave the original body on every failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { liftLongStrings } from '../../src/transforms/json-lift.js';
import { createPngToJpeg } from '../../src/transforms/png-to-jpeg.js';
import { pngToJpegSchema } from '../../src/config/schema.js';
import { loadSharp, type SharpFn } from '../../src/native/sharp-loader.js';
import type { TransformContext } from '../../src/transforms/types.js';
import { captureLog, inspect, makeJpeg, makePng, ROUTE } from './helpers.js';

describe('liftLongStrings', () => {
  const long = 'A'.repeat(40);
  const doc = { a: long, b: 'short', c: [long.toLowerCase(), { d: `${long}é€😀` }], [`k${long}`]: 1, e: 'x\\"y', f: `${long}\\"${long}` };
  const body = Buffer.from(JSON.stringify(doc));

  it('parses to the same document once placeholders are resolved, and serialises back byte for byte', () => {
    const lifted = liftLongStrings(body, 32)!;
    expect(lifted.skeleton.length).toBeLessThan(body.length);
    const skel = JSON.parse(lifted.skeleton) as Record<string, unknown>;
    const resolve = (v: unknown): unknown => {
      if (typeof v === 'string') return lifted.raw(v)?.toString('utf8') ?? v;
      if (Array.isArray(v)) return v.map(resolve);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [resolve(k) as string, resolve(x)]));
      return v;
    };
    expect(resolve(skel)).toEqual(doc);
    expect(lifted.serialise(skel).equals(body)).toBe(true);
    // Lifted: the long plain values, the non-ASCII one and the long key; not short or escaped ones.
    expect(lifted.raw(skel.a as string)?.toString()).toBe(long);
    expect(lifted.raw((skel.c as [string, { d: string }])[1].d)?.toString()).toBe(`${long}é€😀`);
    expect(lifted.raw(skel.b as string)).toBeUndefined();
    expect(skel.f).toBe(`${long}\\"${long}`);
    expect(skel.e).toBe('x\\"y');
  });

  it('edits to the skeleton are kept; lifted strings come back untouched around them', () => {
    const lifted = liftLongStrings(body, 32)!;
    const skel = JSON.parse(lifted.skeleton) as Record<string, unknown>;
    skel.a = 'replaced';
    skel.b = 'also';
    const out = JSON.parse(lifted.serialise(skel).toString());
    expect(out).toEqual({ ...doc, a: 'replaced', b: 'also' });
  });

  it('escapes at string ends, and a backslash pair before a quote, do not confuse the scan', () => {
    const tricky = { a: `${'x'.repeat(40)}\\`, b: 'q'.repeat(40), c: `\\\\${'y'.repeat(40)}`, d: `"${'z'.repeat(40)}"` };
    const b = Buffer.from(JSON.stringify(tricky));
    const lifted = liftLongStrings(b, 32)!;
    const skel = JSON.parse(lifted.skeleton) as Record<string, string>;
    expect(lifted.raw(skel.b!)?.toString()).toBe('q'.repeat(40));
    expect([skel.a, skel.c, skel.d]).toEqual([tricky.a, tricky.c, tricky.d]);
    expect(lifted.serialise(skel).equals(b)).toBe(true);
  });

  it('an unterminated string is not JSON: undefined, so the caller keeps the body', () => {
    expect(liftLongStrings(Buffer.from(`{"a":"${'x'.repeat(64)}`), 32)).toBeUndefined();
  });

  it('a document with no long strings is left whole', () => {
    const small = Buffer.from('{"a":"b"}');
    expect(liftLongStrings(small, 32)!.skeleton).toBe('{"a":"b"}');
  });

  it('stand(): new bytes are spliced in as they are, in lifted and in whole documents', () => {
    for (const [b, min] of [[body, 32], [Buffer.from('{"a":"b","c":[1]}'), 32]] as const) {
      const lifted = liftLongStrings(b, min)!;
      const skel = JSON.parse(lifted.skeleton) as Record<string, unknown>;
      const jpeg = Buffer.from(`data:image/jpeg;base64,${randomBytes(3000).toString('base64')}`, 'latin1');
      const placeholder = lifted.stand(jpeg);
      expect(lifted.raw(placeholder)?.equals(jpeg)).toBe(true);
      skel.a = placeholder;
      skel.z = [lifted.stand(Buffer.from('second'))];
      const out = JSON.parse(lifted.serialise(skel).toString()) as Record<string, unknown>;
      expect(out.a).toBe(jpeg.toString('latin1'));
      expect(out.z).toEqual(['second']);
      if (b === body) expect(out.b).toBe('short');
      else expect(out.c).toEqual([1]);
    }
  });
});

describe('png-to-jpeg: lifted path = parsed path', () => {
  let sharp: SharpFn;
  let png: string; // 48×48 RGBA: a few KB of base64, above the test lift threshold
  let pngUrl: string;
  let jpeg: string;
  beforeAll(async () => {
    sharp = await loadSharp();
    const raw = randomBytes(48 * 48 * 4); // noise: does not compress, so the base64 is long
    const buf = await (sharp as unknown as (i: Buffer, o: object) => import('sharp').Sharp)(raw, { raw: { width: 48, height: 48, channels: 4 } }).png().toBuffer();
    png = buf.toString('base64');
    pngUrl = buf.toString('base64url');
    jpeg = (await makeJpeg(48, 48)).toString('base64');
    expect(png.length).toBeGreaterThan(2048);
  });

  function ctx(log = captureLog().log, event = false): TransformContext {
    return {
      route: ROUTE,
      status: 200,
      headers: new Headers({ 'content-type': event ? 'text/event-stream' : 'application/json' }),
      options: {},
      log,
      signal: new AbortController().signal,
      ...(event ? { event: { name: undefined, id: undefined } } : {}),
    };
  }

  async function both(doc: unknown, options: Record<string, unknown> = {}, event = false): Promise<{ parsed: Buffer; lifted: Buffer; warnings: number }> {
    const opts = pngToJpegSchema.parse(options);
    const body = Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
    const logA = captureLog();
    const logB = captureLog();
    const a = await createPngToJpeg(async () => sharp, opts, { liftMin: Infinity }).transform(body, ctx(logA.log, event));
    const b = await createPngToJpeg(async () => sharp, opts, { liftMin: 256 }).transform(body, ctx(logB.log, event));
    const parsed = Buffer.isBuffer(a) ? a : a.body;
    const lifted = Buffer.isBuffer(b) ? b : b.body;
    expect(logB.warnings().length).toBe(logA.warnings().length);
    return { parsed, lifted, warnings: logB.warnings().length };
  }

  const isJpeg = async (b64: string) => (await inspect(Buffer.from(b64, 'base64'))).format === 'jpeg';

  it('FusionBrain result.files[] (with a JPEG already there left alone)', async () => {
    const { parsed, lifted } = await both({ uuid: 'u', status: 'DONE', result: { files: [png, jpeg], censored: false } });
    expect(lifted.equals(parsed)).toBe(true);
    const out = JSON.parse(lifted.toString());
    expect(await isJpeg(out.result.files[0])).toBe(true);
    expect(out.result.files[1]).toBe(jpeg);
  });

  it('OpenAI b64_json: output_format png → jpeg, in /images responses and in stream events', async () => {
    const r = await both({ created: 1, data: [{ b64_json: png, revised_prompt: 'a cat' }], output_format: 'png', usage: { total_tokens: 9 } });
    expect(r.lifted.equals(r.parsed)).toBe(true);
    const out = JSON.parse(r.lifted.toString());
    expect(out.output_format).toBe('jpeg');
    expect(await isJpeg(out.data[0].b64_json)).toBe(true);
    const ev = await both({ type: 'image_generation.partial_image', b64_json: png, output_format: 'png', partial_image_index: 0 }, {}, true);
    expect(ev.lifted.equals(ev.parsed)).toBe(true);
    expect(JSON.parse(ev.lifted.toString()).output_format).toBe('jpeg');
  });

  it('Gemini inlineData and inline_data: the sibling mime type becomes image/jpeg', async () => {
    const doc = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'here' }, { inlineData: { mimeType: 'image/png', data: png } }, { inline_data: { mime_type: 'image/png', data: pngUrl } }] } }],
      usageMetadata: { totalTokenCount: 3 },
    };
    const { parsed, lifted } = await both(doc);
    expect(lifted.equals(parsed)).toBe(true);
    const parts = JSON.parse(lifted.toString()).candidates[0].content.parts;
    expect(parts[1].inlineData.mimeType).toBe('image/jpeg');
    expect(parts[2].inline_data.mime_type).toBe('image/jpeg');
    expect(await isJpeg(parts[1].inlineData.data)).toBe(true);
    expect(parts[2].inline_data.data).toMatch(/^[A-Za-z0-9_-]+$/); // URL-safe in, URL-safe out
  });

  it('data: URLs anywhere, a bare data-URL document, and fields: paths', async () => {
    const url = `data:image/png;base64,${png}`;
    const r = await both({ choices: [{ message: { content: 'x', images: [{ image_url: { url } }] } }] });
    expect(r.lifted.equals(r.parsed)).toBe(true);
    expect(JSON.parse(r.lifted.toString()).choices[0].message.images[0].image_url.url).toMatch(/^data:image\/jpeg;base64,\/9j\//);
    const bare = await both(JSON.stringify(url), {}, true);
    expect(bare.lifted.equals(bare.parsed)).toBe(true);
    expect(JSON.parse(bare.lifted.toString())).toMatch(/^data:image\/jpeg;base64,\/9j\//);
    const f = await both({ result: { images: [png], files: [png] } }, { fields: ['result.images[]'] });
    expect(f.lifted.equals(f.parsed)).toBe(true);
    const out = JSON.parse(f.lifted.toString());
    expect(await isJpeg(out.result.images[0])).toBe(true);
    expect(out.result.files[0]).toBe(png); // not in fields: untouched
  });

  it('a corrupt PNG, base64 with stray characters, or an escaped string: original body, same as the parse path', async () => {
    const corrupt = `${png.slice(0, 200)}${'A'.repeat(png.length - 200)}`;
    const c = await both({ data: [{ b64_json: corrupt }] });
    expect(c.warnings).toBe(1);
    expect(c.lifted.equals(Buffer.from(JSON.stringify({ data: [{ b64_json: corrupt }] })))).toBe(true);
    const stray = `${png.slice(0, 1000)}.${png.slice(1000)}`;
    const s = await both({ data: [{ b64_json: stray }] });
    expect(s.lifted.equals(Buffer.from(JSON.stringify({ data: [{ b64_json: stray }] })))).toBe(true);
    // `\/` escapes (PHP's json_encode): not lifted, still converted through the parse path.
    const escaped = JSON.stringify({ data: [{ b64_json: png }] }).replaceAll('/', '\\/');
    const e = await both(escaped);
    expect(e.lifted.equals(e.parsed)).toBe(true);
    expect(await isJpeg(JSON.parse(e.lifted.toString()).data[0].b64_json)).toBe(true);
  });

  it('non-ASCII text around images survives byte for byte', async () => {
    const text = 'Кот в сапогах 🐈 '.repeat(40);
    const { parsed, lifted } = await both({ candidates: [{ content: { parts: [{ text }, { inlineData: { mimeType: 'image/png', data: png } }] } }] });
    expect(lifted.equals(parsed)).toBe(true);
    expect(JSON.parse(lifted.toString()).candidates[0].content.parts[0].text).toBe(text);
  });

  it('small transparent PNG under the lift threshold still converts (parse path)', async () => {
    const tiny = (await makePng(4, 4, { r: 0, g: 0, b: 0, alpha: 0 })).toString('base64');
    const { parsed, lifted } = await both({ data: [{ b64_json: tiny }] });
    expect(lifted.equals(parsed)).toBe(true);
    expect(await isJpeg(JSON.parse(lifted.toString()).data[0].b64_json)).toBe(true);
  });
});
