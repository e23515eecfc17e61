/** In-memory sink, session context and captured logger for driving a TransformPlanner directly. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { transformSchema } from '../../src/config/schema.js';
import { compileTransforms } from '../../src/transforms/index.js';
import type { HeaderMap, ResponseSink, SessionContext, TransformPlanner } from '../../src/transforms/types.js';
import { loadSharp } from '../../src/native/sharp-loader.js';
import type { Sharp, SharpOptions } from 'sharp';

export const ROUTE = { name: 'test', prefix: '/t', upstream: 'http://127.0.0.1:1' };

export interface CapturedLog {
  log: Logger;
  lines(): Record<string, unknown>[];
  warnings(): Record<string, unknown>[];
}

export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json', redactor: new Redactor(), destination });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, warnings: () => lines().filter((l) => l.level === 'warn') };
}

export interface MemorySink extends ResponseSink {
  status: number;
  headers: HeaderMap;
  writes: { at: number; chunk: Buffer }[];
  ended: boolean;
  destroyed: Error | undefined;
  /** Resolves on end() or destroy(). */
  done: Promise<void>;
  body(): Buffer;
  /** Resolves once `pred(body so far)` holds (checked after every write). */
  until(pred: (body: Buffer) => boolean, ms?: number): Promise<void>;
}

export function memorySink(): MemorySink {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const watchers: { pred: (b: Buffer) => boolean; fire: () => void }[] = [];
  const check = () => {
    const b = sink.body();
    for (const w of [...watchers]) if (w.pred(b)) {
      watchers.splice(watchers.indexOf(w), 1);
      w.fire();
    }
  };
  const sink: MemorySink = {
    status: 0,
    headers: {},
    writes: [],
    ended: false,
    destroyed: undefined,
    done,
    writeHead(status, headers) {
      if (sink.status !== 0) throw new Error('writeHead called twice');
      sink.status = status;
      sink.headers = { ...headers };
    },
    write(chunk) {
      if (sink.status === 0) throw new Error('write before writeHead');
      if (sink.ended) throw new Error('write after end');
      sink.writes.push({ at: performance.now(), chunk: Buffer.from(chunk) });
      check();
      return true;
    },
    onDrain(cb) {
      setImmediate(cb);
    },
    end() {
      if (sink.status === 0) throw new Error('end before writeHead');
      sink.ended = true;
      resolve();
    },
    destroy(err) {
      sink.destroyed = err;
      resolve();
    },
    body: () => Buffer.concat(sink.writes.map((w) => w.chunk)),
    until(pred, ms = 10_000) {
      if (pred(sink.body())) return Promise.resolve();
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`sink condition not met within ${ms} ms; body so far: ${sink.body().toString().slice(0, 200)}`)), ms);
        watchers.push({ pred, fire: () => (clearTimeout(t), res()) });
      });
    },
  };
  return sink;
}

export function sessionContext(log: Logger, signal: AbortSignal = new AbortController().signal): SessionContext & { resumes: number } {
  const ctx = { route: ROUTE, log, requestId: 'req-1', signal, resumes: 0, resume: () => void ctx.resumes++ };
  return ctx;
}

/** Compiles transforms from config-shaped objects (defaults applied by the real schema). */
export async function planner(
  list: unknown[],
  opts: { log?: Logger; maxTransformSize?: number; configDir?: string } = {},
): Promise<TransformPlanner> {
  const p = await compileTransforms(
    list.map((t) => transformSchema.parse(t)),
    {
      route: ROUTE,
      configDir: opts.configDir ?? process.cwd(),
      maxTransformSize: opts.maxTransformSize ?? 64 * 1024 * 1024,
      log: opts.log ?? captureLog().log,
    },
  );
  if (!p) throw new Error('no planner');
  return p;
}

export interface Outcome {
  sink: MemorySink;
  /** false when the planner declined (core would pipe the body untouched). */
  planned: boolean;
  logs: CapturedLog;
}

/** Runs one response through a planner: head, then chunks, then end. */
export async function runResponse(
  plan: TransformPlanner,
  status: number,
  headers: HeaderMap,
  chunks: Buffer[],
  logs = captureLog(),
): Promise<Outcome> {
  const sink = memorySink();
  const session = plan({ status, headers }, sink, sessionContext(logs.log));
  if (!session) return { sink, planned: false, logs };
  for (const c of chunks) session.data(c);
  session.end();
  await withTimeout(sink.done, 15_000, 'session did not finish');
  return { sink, planned: true, logs };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what} (${ms} ms)`)), ms)))]).finally(() => clearTimeout(t));
}

/** A small PNG: `alpha` 0 gives fully transparent pixels. */
export async function makePng(width: number, height: number, rgba: { r: number; g: number; b: number; alpha: number }): Promise<Buffer> {
  const sharp = await loadSharp();
  return (sharp as unknown as (o: SharpOptions) => Sharp)({ create: { width, height, channels: 4, background: rgba } }).png().toBuffer();
}

export async function makeJpeg(width: number, height: number): Promise<Buffer> {
  const sharp = await loadSharp();
  return (sharp as unknown as (o: SharpOptions) => Sharp)({ create: { width, height, channels: 3, background: { r: 10, g: 200, b: 30 } } }).jpeg().toBuffer();
}

/** Decodes an image with sharp: format, size and the first pixel. */
export async function inspect(img: Buffer): Promise<{ format: string | undefined; width: number | undefined; height: number | undefined; pixel: number[] }> {
  const sharp = await loadSharp();
  const meta = await sharp(img).metadata();
  const raw = await sharp(img).removeAlpha().raw().toBuffer();
  return { format: meta.format, width: meta.width, height: meta.height, pixel: [raw[0]!, raw[1]!, raw[2]!] };
}

/** A PNG whose IHDR claims width×height but holds no pixel data: tiny on disk. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.alloc(0)), chunk('IEND', Buffer.alloc(0))]);
}
