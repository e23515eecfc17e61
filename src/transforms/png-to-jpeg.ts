/**
 * The built-in `png-to-jpeg` transform (spec §6). It implements the same plugin interface as
 * `module:` transforms; for event streams the relay calls it once per event.
 */
import type { PngToJpegOptions } from '../config/schema.js';
import { loadSharp, type SharpFn } from '../native/sharp-loader.js';
import type { CompiledTransform, ResponseTransform, TransformContext } from './types.js';
import { hasPngSignature, isBase64Url, looksLikeBase64Png, readPngSize } from './png.js';
import { findImageSlots, parseFieldPath, replaceSlot, slotBase64, type FieldPath } from './json-images.js';
import { conversionSlots } from './semaphore.js';

/** Generous: a 100 MP image at q95 takes seconds; the wait for a slot counts too. */
export const PNG_TO_JPEG_TIMEOUT = 120_000;

type BodyKind = 'json' | 'binary' | 'sse' | undefined;

/** What kind of body a media type announces; undefined → not ours. */
export function bodyKind(type: string): BodyKind {
  if (type === 'text/event-stream') return 'sse';
  if (type === 'application/json' || type.endsWith('+json') || type === 'text/json') return 'json';
  // Binary bodies are sniffed whatever they claim to be; text/html and friends are never images.
  if (type === '' || type === 'application/octet-stream' || type.startsWith('image/')) return 'binary';
  return undefined;
}

function mediaTypeOf(headers: Headers): string {
  return (headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

export interface ConvertOptions {
  quality: number;
  background: string;
  mozjpeg: boolean;
  maxPixels: number;
}

/** One image; a reason string instead of a buffer when it was left untouched. */
export async function convertPng(sharp: SharpFn, png: Buffer, opts: ConvertOptions, signal?: AbortSignal): Promise<Buffer | string> {
  const size = readPngSize(png);
  if (!size) return 'not a readable PNG (bad IHDR)';
  if (size.width * size.height > opts.maxPixels) {
    return `${size.width}x${size.height} exceeds maxPixels ${opts.maxPixels}`;
  }
  try {
    return await conversionSlots().run(
      () =>
        sharp(png, { limitInputPixels: opts.maxPixels, failOn: 'error' })
          .flatten({ background: opts.background })
          .jpeg({ quality: opts.quality, mozjpeg: opts.mozjpeg })
          .toBuffer(),
      signal,
    );
  } catch (err) {
    if (signal?.aborted) throw err;
    return `cannot read image: ${(err as Error).message}`;
  }
}

const JSON_START = /^[\s]*[[{"]/;

export function createPngToJpeg(sharp: SharpFn, options: PngToJpegOptions): ResponseTransform {
  const fields: FieldPath[] | undefined = options.fields?.map(parseFieldPath);
  const conv: ConvertOptions = {
    quality: options.quality,
    background: options.background,
    mozjpeg: options.mozjpeg,
    maxPixels: options.maxPixels,
  };

  async function transformJson(body: Buffer, ctx: TransformContext): Promise<Buffer> {
    const text = body.toString('utf8');
    if (!JSON_START.test(text.slice(0, 64))) return body;
    let root: unknown;
    try {
      root = JSON.parse(text);
    } catch {
      return body; // not JSON after all (or an SSE data line that is plain text): not ours
    }
    const slots = findImageSlots(root, fields);
    const skipped: { path: string; reason: string }[] = [];
    const results = await Promise.all(
      slots.map(async (slot) => {
        const b64 = slotBase64(slot);
        // Cheap checks first: almost every string fails the fixed prefix at once.
        if (!looksLikeBase64Png(b64)) return false;
        const png = Buffer.from(b64, 'base64');
        if (!hasPngSignature(png)) return false;
        const out = await convertPng(sharp, png, conv, ctx.signal);
        if (typeof out === 'string') {
          skipped.push({ path: slot.path, reason: out });
          return false;
        }
        replaceSlot(slot, out.toString(isBase64Url(b64) ? 'base64url' : 'base64'));
        return true;
      }),
    );
    if (skipped.length) ctx.log.warn({ transform: 'png-to-jpeg', skipped }, `png-to-jpeg left ${skipped.length} image(s) untouched`);
    return results.some(Boolean) ? Buffer.from(JSON.stringify(root), 'utf8') : body;
  }

  return {
    name: 'png-to-jpeg',
    match({ status, headers }) {
      if (status < 200 || status > 299 || status === 204 || status === 206) return false;
      return bodyKind(mediaTypeOf(headers)) !== undefined;
    },
    async transform(body, ctx) {
      // Never trust Content-Type: whatever it says, a body that is a PNG is converted as one.
      if (hasPngSignature(body)) {
        const out = await convertPng(sharp, body, conv, ctx.signal);
        if (typeof out === 'string') {
          ctx.log.warn({ transform: 'png-to-jpeg', reason: out }, 'png-to-jpeg left the image untouched');
          return body;
        }
        return { body: out, headers: { 'content-type': 'image/jpeg' } };
      }
      const kind = ctx.event ? 'sse' : bodyKind(mediaTypeOf(ctx.headers));
      if (kind === 'json' || kind === 'sse') return transformJson(body, ctx);
      return body;
    },
  };
}

let sharpTuned = false;

/** Loads sharp (lazily: only when a route uses png-to-jpeg) and builds the compiled transform. */
export async function compilePngToJpeg(options: PngToJpegOptions): Promise<CompiledTransform> {
  const sharp = await loadSharp();
  if (!sharpTuned) {
    // One libvips thread per image and no operation cache: parallelism comes from the
    // process-wide slot count instead, so memory and CPU stay bounded on a small VPS.
    sharp.concurrency(1);
    sharp.cache(false);
    sharpTuned = true;
  }
  // Validate paths at startup, not per response.
  options.fields?.forEach(parseFieldPath);
  return {
    transform: createPngToJpeg(sharp, options),
    options: { ...options },
    timeout: PNG_TO_JPEG_TIMEOUT,
    wants(prefix, { headers }) {
      // A binary body that does not start like a PNG streams through instead of being collected.
      if (bodyKind(mediaTypeOf(headers)) !== 'binary') return true;
      return hasPngSignature(prefix);
    },
  };
}
