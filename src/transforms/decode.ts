/**
 * Content-Encoding for transforms: a collected body is decoded before a transform sees it
 * (and sent uncompressed after), always with `maxOutputLength` so a zip bomb stops at the cap.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { Transform } from 'node:stream';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotli = promisify(zlib.brotliDecompress);

export class UnsupportedEncodingError extends Error {
  constructor(readonly coding: string) {
    super(`cannot decode Content-Encoding "${coding}"`);
    this.name = 'UnsupportedEncodingError';
  }
}

/** The codings in the order they were applied; identity dropped. */
export function codings(contentEncoding: string | undefined): string[] {
  if (!contentEncoding) return [];
  return contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

const KNOWN = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

export function canDecode(contentEncoding: string | undefined): boolean {
  return codings(contentEncoding).every((c) => KNOWN.has(c));
}

async function decodeOne(body: Buffer, coding: string, max: number): Promise<Buffer> {
  const opts = { maxOutputLength: max };
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return gunzip(body, opts);
    case 'deflate':
      // RFC 9110 says zlib-wrapped, but servers send raw deflate too (undici decompress does the same).
      return inflate(body, opts).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'Z_DATA_ERROR') return inflateRaw(body, opts);
        throw err;
      });
    case 'br':
      return brotli(body, opts);
    default:
      throw new UnsupportedEncodingError(coding);
  }
}

/** Decodes a whole body; rejects with code ERR_BUFFER_TOO_LARGE past `max` decoded bytes. */
export async function decodeBody(body: Buffer, contentEncoding: string | undefined, max: number): Promise<Buffer> {
  let out = body;
  for (const coding of codings(contentEncoding).reverse()) out = await decodeOne(out, coding, max);
  return out;
}

/** A streaming decoder for an event stream, or undefined when the body is not encoded. */
export function streamDecoder(contentEncoding: string | undefined): Transform | undefined {
  const list = codings(contentEncoding);
  if (list.length === 0) return undefined;
  if (list.length > 1) throw new UnsupportedEncodingError(list.join(', '));
  switch (list[0]) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      throw new UnsupportedEncodingError(list[0]!);
  }
}
