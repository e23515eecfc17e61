/**
 * A whole-body transform session: collect (bounded), decode, run the chain, then write. Nothing is
 * written before the outcome is known, so every failure can still send the ORIGINAL response —
 * the encoded bytes exactly as received, with the original headers.
 */
import type { CompiledTransform, HeaderMap, ResponseHead, ResponseSink, SessionContext, TransformSession } from './types.js';
import { decodeBody } from './decode.js';
import { getHeader, rewrittenHeaders, toHeaders, decodedView } from './headers.js';
import { runChain, TransformFailure } from './chain.js';

type State = 'collect' | 'pass' | 'process' | 'done';

export class BufferedSession implements TransformSession {
  private chunks: Buffer[] = [];
  private size = 0;
  private state: State = 'collect';
  private sniffed = false;
  private readonly encoding: string | undefined;

  constructor(
    private readonly head: ResponseHead,
    private readonly sink: ResponseSink,
    private readonly ctx: SessionContext,
    private readonly transforms: CompiledTransform[],
    private readonly maxSize: number,
  ) {
    this.encoding = getHeader(head.headers, 'content-encoding');
  }

  data(chunk: Buffer): boolean {
    if (this.state === 'pass') return this.forward(chunk);
    if (this.state !== 'collect') return true;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (!this.sniffed && this.size >= 8) {
      this.sniffed = true;
      if (!this.wanted()) return this.passThrough();
    }
    if (this.size > this.maxSize) {
      this.ctx.log.warn(
        { transforms: this.names(), maxTransformSize: this.maxSize },
        'response body exceeds maxTransformSize; sent untransformed',
      );
      return this.passThrough();
    }
    return true;
  }

  end(): void {
    if (this.state === 'pass') {
      this.state = 'done';
      this.sink.end();
      return;
    }
    if (this.state !== 'collect') return;
    this.state = 'process';
    this.finish().catch((err: unknown) => {
      // Only reachable if the sink itself throws; the response cannot be saved any more.
      this.state = 'done';
      this.sink.destroy(err as Error);
    });
  }

  error(err: Error): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.chunks = [];
    this.sink.destroy(err);
  }

  private names(): string[] {
    return this.transforms.map((t) => t.transform.name);
  }

  /** Built-ins may decline from the first bytes (a JPEG under image/*): then stream it through. */
  private wanted(): boolean {
    if (this.encoding !== undefined && this.encoding.toLowerCase() !== 'identity') return true;
    const prefix = Buffer.concat(this.chunks).subarray(0, 16);
    const head = { status: this.head.status, headers: toHeaders(this.head.headers) };
    return this.transforms.some((t) => !t.wants || t.wants(prefix, head));
  }

  /** Give up transforming: original head, what was collected, then the rest as it comes. */
  private passThrough(): boolean {
    this.state = 'pass';
    this.sink.writeHead(this.head.status, this.head.headers);
    let ok = true;
    for (const c of this.chunks) ok = this.sink.write(c);
    this.chunks = [];
    if (!ok) this.sink.onDrain(() => this.ctx.resume());
    return ok;
  }

  private forward(chunk: Buffer): boolean {
    const ok = this.sink.write(chunk);
    if (!ok) this.sink.onDrain(() => this.ctx.resume());
    return ok;
  }

  private sendOriginal(body: Buffer): void {
    this.send(this.head.status, this.head.headers, body);
  }

  private send(status: number, headers: HeaderMap, body: Buffer): void {
    this.state = 'done';
    this.sink.writeHead(status, headers);
    if (body.length > 0) this.sink.write(body);
    this.sink.end();
  }

  private async finish(): Promise<void> {
    const original = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const { log, signal } = this.ctx;
    let decoded: Buffer;
    try {
      decoded = await decodeBody(original, this.encoding, this.maxSize);
    } catch (err) {
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      log.warn(
        { transforms: this.names(), contentEncoding: this.encoding, ...(tooLarge ? { maxTransformSize: this.maxSize } : { err }) },
        tooLarge ? 'decoded response body exceeds maxTransformSize; sent untransformed' : 'cannot decode response body; sent untransformed',
      );
      if (!signal.aborted) this.sendOriginal(original);
      return;
    }
    let result;
    try {
      result = await runChain(this.transforms, decoded, {
        route: this.ctx.route,
        status: this.head.status,
        headers: toHeaders(decodedView(this.head.headers)),
        log,
        signal,
      });
    } catch (err) {
      if (signal.aborted) return;
      const name = err instanceof TransformFailure ? err.transformName : undefined;
      log.warn({ transform: name, err: err instanceof TransformFailure ? err.cause : err }, 'transform failed; original response sent');
      this.sendOriginal(original);
      return;
    }
    if (signal.aborted) return;
    if (!result) {
      this.sendOriginal(original);
      return;
    }
    this.send(this.head.status, rewrittenHeaders(this.head.headers, result.headers, result.body.length), result.body);
  }
}
