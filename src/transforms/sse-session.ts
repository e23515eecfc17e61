/**
 * An event-stream transform session: the stream is cut into events as it arrives, each event whose
 * data is JSON goes through the chain, and events are written in order as soon as each is ready.
 * Only events are held, never the stream; comments and non-JSON events keep their exact bytes.
 */
import type { Transform } from 'node:stream';
import type { CompiledTransform, ResponseHead, ResponseSink, SessionContext, TransformSession } from './types.js';
import { SseParser, parseEvent, replaceEventData, type SseItem } from './sse-parser.js';
import { getHeader, streamingHeaders, toHeaders, decodedView } from './headers.js';
import { streamDecoder } from './decode.js';
import { runChain, TransformFailure } from './chain.js';

/** Bytes of parsed, not yet written events past which the upstream is paused. */
const HIGH_WATER = 1 << 20;

interface Pending {
  out: Buffer | Promise<Buffer>;
  size: number;
}

const LOOKS_JSON = /^\s*[[{]/;

export class SseSession implements TransformSession {
  private readonly parser: SseParser;
  private readonly decoder: Transform | undefined;
  private readonly queue: Pending[] = [];
  private queued = 0;
  private pumping = false;
  private waitingDrain = false;
  private upstreamPaused = false;
  private inputDone = false;
  private finished = false;
  private warned = false;
  private readonly chainHeaders: Headers;

  constructor(
    private readonly head: ResponseHead,
    private readonly sink: ResponseSink,
    private readonly ctx: SessionContext,
    private readonly transforms: CompiledTransform[],
    maxEvent: number,
  ) {
    this.decoder = streamDecoder(getHeader(head.headers, 'content-encoding'));
    this.chainHeaders = toHeaders(decodedView(head.headers));
    this.parser = new SseParser(maxEvent, (item) => this.enqueue(item), () =>
      this.warnOnce({ maxTransformSize: maxEvent }, 'event exceeds maxTransformSize; sent untransformed'),
    );
    if (this.decoder) {
      this.decoder.on('data', (c: Buffer) => this.parser.push(c));
      this.decoder.on('end', () => this.inputEnded());
      this.decoder.on('error', (err) => this.error(err));
    }
    ctx.signal.addEventListener('abort', () => this.stop(), { once: true });
    // Headers go out at once: an event stream's client is waiting for them, not for the body.
    sink.writeHead(head.status, streamingHeaders(head.headers));
  }

  data(chunk: Buffer): boolean {
    if (this.finished) return true;
    if (this.decoder) this.decoder.write(chunk);
    else this.parser.push(chunk);
    if (this.shouldPause()) {
      this.upstreamPaused = true;
      return false;
    }
    return true;
  }

  end(): void {
    if (this.finished) return;
    if (this.decoder) this.decoder.end();
    else this.inputEnded();
  }

  error(err: Error): void {
    if (this.finished) return;
    this.stop();
    this.sink.destroy(err);
  }

  private stop(): void {
    this.finished = true;
    this.decoder?.destroy();
    this.queue.length = 0;
  }

  private inputEnded(): void {
    this.parser.end();
    this.inputDone = true;
    void this.pump();
  }

  private shouldPause(): boolean {
    return this.waitingDrain || this.queued > HIGH_WATER;
  }

  private maybeResume(): void {
    if (this.upstreamPaused && !this.shouldPause()) {
      this.upstreamPaused = false;
      this.ctx.resume();
    }
  }

  private warnOnce(fields: Record<string, unknown>, msg: string): void {
    // One line per stream: a broken transform would otherwise log once per event.
    if (this.warned) return;
    this.warned = true;
    this.ctx.log.warn({ transforms: this.transforms.map((t) => t.transform.name), ...fields }, msg);
  }

  private enqueue(item: SseItem): void {
    if (this.finished) return;
    const out = item.kind === 'event' ? this.transformEvent(item.raw) : item.raw;
    this.queue.push({ out, size: item.raw.length });
    this.queued += item.raw.length;
    void this.pump();
  }

  private transformEvent(raw: Buffer): Buffer | Promise<Buffer> {
    const text = raw.toString('utf8');
    const ev = parseEvent(text);
    if (ev.data === undefined || !LOOKS_JSON.test(ev.data.slice(0, 64))) return raw;
    return runChain(this.transforms, Buffer.from(ev.data, 'utf8'), {
      route: this.ctx.route,
      status: this.head.status,
      headers: this.chainHeaders,
      log: this.ctx.log,
      signal: this.ctx.signal,
      event: { name: ev.name, id: ev.id },
    }).then(
      (result) => (result ? Buffer.from(replaceEventData(text, result.body.toString('utf8')), 'utf8') : raw),
      (err: unknown) => {
        if (!this.ctx.signal.aborted) {
          const name = err instanceof TransformFailure ? err.transformName : undefined;
          this.warnOnce({ transform: name, err: err instanceof TransformFailure ? err.cause : err }, 'transform failed on an event; event sent untransformed');
        }
        return raw;
      },
    );
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.finished) {
        const item = this.queue[0]!;
        const out = await item.out;
        if (this.finished) return;
        this.queue.shift();
        this.queued -= item.size;
        if (out.length > 0 && !this.sink.write(out)) {
          this.waitingDrain = true;
          await new Promise<void>((resolve) => this.sink.onDrain(resolve));
          this.waitingDrain = false;
        }
        this.maybeResume();
      }
      if (this.inputDone && this.queue.length === 0 && !this.finished) {
        this.finished = true;
        this.sink.end();
      }
    } finally {
      this.pumping = false;
    }
  }
}
