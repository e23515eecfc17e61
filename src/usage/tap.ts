/**
 * The usage tap: sees the upstream response chunks as they pass to the client and reads the
 * usage out of them, without holding the stream back.
 *
 * - SSE: each chunk is passed on at once; a copy is cut into events (sse-parser.ts) and only an
 *   event whose bytes mention `usage` is JSON-parsed, so the per-event cost is one byte search.
 *   With `strip` (the relay injected `include_usage`), bytes are passed on per whole event so the
 *   usage-only chunk the client never asked for can be left out; every other byte is unchanged,
 *   and an event leaves as soon as its last byte arrived.
 * - JSON: usage sits in the document, so the body is copied aside up to `maxJson` (larger
 *   bodies: usage unknown) and parsed when it ended. gzip/deflate/br bodies are decoded then.
 * - Anything else (images, audio, compressed SSE): no tap.
 */
import zlib from 'node:zlib';
import { SseParser, parseEvent, type SseItem } from '../transforms/sse-parser.js';
import { isUsageOnlyChunk, UsageReader } from './reader.js';
import { Tail, TAIL_BYTES, usageInTail } from './tail.js';
import type { Usage } from './usage.js';

export interface UsageTap {
  /** The bytes to pass on for this upstream chunk (the chunk itself unless stripping); undefined: nothing yet. */
  data(chunk: Buffer): Buffer | undefined;
  /** Upstream ended: bytes still held (strip mode only); `usage` is final afterwards. */
  end(): Buffer | undefined;
  readonly usage: Usage | undefined;
  /**
   * The whole body was read and parsed and reports no usage at all (a model list, a DALL·E
   * image): nothing to charge. Never true for a stream, which may simply have been cut short.
   */
  readonly reportsNone: boolean;
}

/** Bodies and events past this are not read for usage (they pass untouched). */
export const USAGE_MAX_BYTES = 1024 * 1024;
const USAGE = Buffer.from('usage');
const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\b/i;

export function createUsageTap(contentType: string | undefined, contentEncoding: string | undefined, opts: { strip: boolean; maxBytes?: number }): UsageTap | undefined {
  if (typeof contentType !== 'string') return undefined;
  const max = opts.maxBytes ?? USAGE_MAX_BYTES;
  const identity = contentEncoding === undefined || contentEncoding === '' || contentEncoding.toLowerCase() === 'identity';
  if (contentType.startsWith('text/event-stream')) return identity ? sseTap(opts.strip, max) : undefined;
  if (JSON_TYPE.test(contentType)) return jsonTap(identity ? undefined : contentEncoding!.toLowerCase(), max);
  return undefined;
}

function sseTap(strip: boolean, max: number): UsageTap {
  return new SseTap(strip, max);
}

/**
 * A class, not an object literal with closures: a tap lives as long as its stream, and 10,000
 * open streams hold 10,000 of them. The literal (a getter next to methods) sat in dictionary mode
 * with its own closures and context, ~0.6 KB per stream more (heap snapshot, docs/benchmarks.md).
 */
class SseTap implements UsageTap {
  private readonly reader = new UsageReader();
  private out: Buffer[] = [];
  // An event over `max` (a Gemini image chunk) arrives as raw pieces: its usage is read from
  // the last bytes once they mention it.
  private readonly tail = new Tail();
  private oversize = false;
  private pending = false; // the tail mentions usage whose object has not closed yet
  private readonly parser: SseParser;
  readonly reportsNone = false;

  constructor(
    private readonly strip: boolean,
    max: number,
  ) {
    this.parser = new SseParser(
      max,
      (item: SseItem) => this.item(item),
      () => {
        this.oversize = true;
        this.pending = false;
        this.tail.reset();
      },
    );
  }

  get usage(): Usage | undefined {
    return this.reader.usage;
  }

  data(chunk: Buffer): Buffer | undefined {
    this.parser.push(chunk);
    return this.strip ? this.take() : chunk;
  }

  end(): Buffer | undefined {
    this.parser.end();
    return this.strip ? this.take() : undefined;
  }

  private item(item: SseItem): void {
    if (item.kind === 'event') {
      this.oversize = false;
      if (this.read(item.raw)) return; // the usage chunk only the relay asked for
    } else if (this.oversize) {
      this.tail.push(item.raw);
      if (this.pending || this.tail.newestMentions('usage')) {
        const doc = usageInTail(this.tail.value);
        this.pending = doc === undefined;
        if (doc) this.reader.see(doc);
      }
    }
    if (this.strip) this.out.push(item.raw);
  }

  /** Reads an event's usage; true when it is the usage-only chunk to leave out. */
  private read(raw: Buffer): boolean {
    if (raw.indexOf(USAGE) === -1) return false;
    const data = parseEvent(raw.toString('utf8')).data;
    if (data === undefined || data === '[DONE]') return false;
    let doc: unknown;
    try {
      doc = JSON.parse(data);
    } catch {
      return false; // not JSON: not ours to judge, passed on as is
    }
    this.reader.see(doc);
    return this.strip && isUsageOnlyChunk(doc);
  }

  private take(): Buffer | undefined {
    const out = this.out;
    if (out.length === 0) return undefined;
    const b = out.length === 1 ? out[0]! : Buffer.concat(out);
    this.out = [];
    return b;
  }
}

function jsonTap(encoding: string | undefined, max: number): UsageTap {
  let parts: Buffer[] | undefined = [];
  let size = 0;
  let usage: Usage | undefined;
  let none = false;
  // Most JSON answers without usage (model lists, errors, other APIs) are never parsed: the
  // chunks are searched for `usage` (with a carry across chunk edges) as they pass.
  let mentions = encoding !== undefined; // compressed bytes cannot be searched
  let carry = '';
  const tail = encoding === undefined ? new Tail() : undefined;
  return {
    data(chunk) {
      if (parts) {
        size += chunk.length;
        if (size > max) {
          // Too large to parse whole: only the end is kept, where the APIs put usage.
          if (tail) {
            let from = parts.length;
            for (let kept = 0; from > 0 && kept < TAIL_BYTES; ) kept += parts[--from]!.length;
            for (const p of parts.slice(from)) tail.push(p);
            tail.push(chunk);
          }
          parts = undefined;
        } else {
          parts.push(chunk);
          if (!mentions) {
            mentions = chunk.indexOf(USAGE) !== -1 || (carry !== '' && (carry + chunk.subarray(0, 4).toString('latin1')).includes('usage'));
            carry = chunk.subarray(Math.max(0, chunk.length - 4)).toString('latin1');
          }
        }
      } else tail?.push(chunk);
      return chunk;
    },
    end() {
      if (!parts && tail && size > max) {
        const doc = usageInTail(tail.value);
        if (doc) {
          const reader = new UsageReader();
          reader.see(doc);
          usage = reader.usage;
        }
        return undefined;
      }
      if (!parts || size === 0) return undefined;
      if (!mentions) {
        none = true;
        parts = undefined;
        return undefined;
      }
      try {
        let body: Buffer = Buffer.concat(parts, size);
        parts = undefined;
        if (encoding) body = decodeSync(body, encoding, max);
        const reader = new UsageReader();
        reader.see(JSON.parse(body.toString('utf8')));
        usage = reader.usage;
        none = usage === undefined;
      } catch {
        /* not JSON after all, or undecodable: usage unknown */
      }
      return undefined;
    },
    get usage() {
      return usage;
    },
    get reportsNone() {
      return none;
    },
  };
}

function decodeSync(body: Buffer, encoding: string, max: number): Buffer {
  const o = { maxOutputLength: max };
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body, o);
    case 'deflate':
      return zlib.inflateSync(body, o);
    case 'br':
      return zlib.brotliDecompressSync(body, o);
    default:
      throw new Error(`cannot decode ${encoding}`);
  }
}
