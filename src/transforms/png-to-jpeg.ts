/**
 * The built-in `png-to-jpeg` transform (spec §6). It implements the same plugin interface as
 * `module:` transforms; for event streams the relay calls it once per event.
 */
import type { PngToJpegOptions } from '../config/schema.js';
import type { SharpFn } from '../native/sharp-loader.js';
import { imageLibrary } from './image-library.js';
import type { CompiledTransform, ResponseTransform, TransformContext } from './types.js';
import { hasPngSignature, readPngSize, startsLikeBase64Png } from './png.js';
import { DATA_URL_PREFIX, findImageSlots, parseFieldPath, replaceSlot, type FieldPath, type ImageSlot } from './json-images.js';
import { DEFAULT_LIFT_MIN, liftLongStrings, type LiftedJson } from './json-lift.js';
import { decodeBase64, isBase64UrlBytes } from './base64.js';
import { conversionSlots } from './semaphore.js';
import { lowerConversionThreads } from './thread-priority.js';

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
  /**
   * Huffman-optimised JPEG (sharp's default): ~3–4 % smaller for ~8 ms more CPU per 1024² image.
   * Pillow, like libjpeg, does not optimise unless asked.
   */
  optimizeCoding?: boolean;
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
          .jpeg({ quality: opts.quality, mozjpeg: opts.mozjpeg, optimiseCoding: opts.optimizeCoding ?? true })
          .toBuffer(),
      signal,
    );
  } catch (err) {
    if (signal?.aborted) throw err;
    return `cannot read image: ${(err as Error).message}`;
  } finally {
    lowerConversionThreads();
  }
}

/** First non-space byte of a JSON document (or SSE data payload) we would look into. */
function startsLikeJson(body: Buffer): boolean {
  for (let i = 0; i < body.length && i < 64; i++) {
    const c = body[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b || c === 0x5b || c === 0x22; // { [ "
  }
  return false;
}

/** The base64 text of a slot as bytes: straight from the response body when it was lifted. */
function slotText(slot: ImageSlot, doc: LiftedJson): Buffer {
  const raw = doc.raw(slot.value) ?? Buffer.from(slot.value, 'utf8');
  return slot.form === 'data-url' ? raw.subarray(DATA_URL_PREFIX.length) : raw;
}

/** Internal knobs, for tests that check the lifted and the fully parsed paths agree. */
export interface PngToJpegTuning {
  /** Strings this long (bytes) skip JSON.parse (json-lift.ts). Infinity: parse everything. */
  liftMin?: number;
}

/**
 * `getSharp` is awaited only when a PNG was found, so responses without images never wait for
 * sharp to load (image-library.ts); if it cannot load, the transform fails and the relay sends
 * the original body (spec §4.10).
 */
export function createPngToJpeg(getSharp: () => Promise<SharpFn>, options: PngToJpegOptions, tuning: PngToJpegTuning = {}): ResponseTransform {
  const fields: FieldPath[] | undefined = options.fields?.map(parseFieldPath);
  const liftMin = tuning.liftMin ?? DEFAULT_LIFT_MIN;
  const conv: ConvertOptions = {
    quality: options.quality,
    background: options.background,
    mozjpeg: options.mozjpeg,
    maxPixels: options.maxPixels,
    // Read this way until the config schema has the key (it is strict, so no one can set it before).
    optimizeCoding: (options as PngToJpegOptions & { optimizeCoding?: boolean }).optimizeCoding ?? true,
  };

  async function transformJson(body: Buffer, ctx: TransformContext): Promise<Buffer> {
    if (!startsLikeJson(body)) return body;
    // Long strings (the images) stay as bytes; only the small rest of the document is parsed.
    const doc = liftLongStrings(body, liftMin);
    if (!doc) return body;
    let root: unknown;
    try {
      root = JSON.parse(doc.skeleton);
    } catch {
      return body; // not JSON after all (or an SSE data line that is plain text): not ours
    }
    // A little past the prefix: a data URL must have something after it.
    const peek = (v: string): string => doc.raw(v)?.toString('latin1', 0, DATA_URL_PREFIX.length + 8) ?? v;
    const slots = findImageSlots(root, fields, peek);
    const skipped: { path: string; reason: string }[] = [];
    const results = await Promise.all(
      slots.map(async (slot) => {
        const text = slotText(slot, doc);
        // Cheap checks first: almost every string fails the fixed prefix at once.
        if (!startsLikeBase64Png(text)) return false;
        const png = await decodeBase64(text);
        if (!png || !hasPngSignature(png)) return false;
        const out = await convertPng(await getSharp(), png, conv, ctx.signal);
        if (typeof out === 'string') {
          skipped.push({ path: slot.path, reason: out });
          return false;
        }
        // Base64 needs no JSON escaping: the bytes go into the output as they are (json-lift.ts).
        replaceSlot(slot, out.toString(isBase64UrlBytes(text) ? 'base64url' : 'base64'), (v) => doc.stand(Buffer.from(v, 'latin1')));
        return true;
      }),
    );
    if (skipped.length) ctx.log.warn({ transform: 'png-to-jpeg', skipped }, `png-to-jpeg left ${skipped.length} image(s) untouched`);
    if (!results.some(Boolean)) return body;
    // A document that is one bare string was replaced inside the slot's stand-in holder.
    return doc.serialise(typeof root === 'string' ? (slots[0]!.holder as unknown[])[0] : root);
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
        const out = await convertPng(await getSharp(), body, conv, ctx.signal);
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

/**
 * Builds the compiled transform without loading sharp: it holds the process-wide handle
 * (image-library.ts), which startRelay starts loading once the relay listens. `loadImageLibrary`
 * (`check`) loads it here instead, so a missing library fails the compile as a config problem.
 */
export async function compilePngToJpeg(options: PngToJpegOptions, opts: { loadImageLibrary?: boolean } = {}): Promise<CompiledTransform> {
  // Validate paths at startup, not per response.
  options.fields?.forEach(parseFieldPath);
  if (opts.loadImageLibrary) await imageLibrary();
  return {
    transform: createPngToJpeg(imageLibrary, options),
    options: { ...options },
    timeout: PNG_TO_JPEG_TIMEOUT,
    wants(prefix, { headers }) {
      // A binary body that does not start like a PNG streams through instead of being collected.
      if (bodyKind(mediaTypeOf(headers)) !== 'binary') return true;
      return hasPngSignature(prefix);
    },
  };
}
