/**
 * Response transforms (spec §6). A transform is chosen from status and headers alone; only then
 * does the relay collect the body (bounded) or rewrite an SSE stream event by event.
 */
import type { Logger } from '../log/logger.js';

export type HeaderMap = Record<string, string | string[]>;

export interface RouteInfo {
  name: string;
  prefix: string;
  upstream: string;
}

/** The plugin interface of spec §6; built-ins implement it too. */
export interface ResponseTransform {
  name: string;
  match(res: { status: number; headers: Headers; route: RouteInfo }): boolean;
  transform(body: Buffer, ctx: TransformContext): Promise<Buffer | { body: Buffer; headers?: Record<string, string> }>;
}

export interface TransformContext {
  route: RouteInfo;
  status: number;
  headers: Headers;
  options: Record<string, unknown>;
  log: Logger;
  signal: AbortSignal;
  /**
   * Set when the response is a server-sent event stream: `transform` is then called once per
   * event with that event's `data:` payload as the body, and returned headers are ignored.
   */
  event?: { name: string | undefined; id: string | undefined };
}

/** A transform ready to run: the plugin object plus what the relay needs around it. */
export interface CompiledTransform {
  transform: ResponseTransform;
  /** `options:` from the config, handed to the transform as `ctx.options`. */
  options: Record<string, unknown>;
  /** Milliseconds before the transform is abandoned and the original body is sent. */
  timeout: number;
  /**
   * Built-ins only: given the first bytes of an uncompressed body, may say early that the
   * transform has nothing to do, so the body streams through instead of being collected.
   */
  wants?(prefix: Buffer, head: { status: number; headers: Headers }): boolean;
}

/** Where a transform session writes the (possibly rewritten) response. Provided by the core. */
export interface ResponseSink {
  /** Sends status and headers; the core adds its own (CORS, X-Request-Id, Server-Timing…). */
  writeHead(status: number, headers: HeaderMap): void;
  /** Returns false when the client is slow; wait for onDrain before writing more. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  end(): void;
  /** Abort the client response (after headers were sent, destroys the socket). */
  destroy(err: Error): void;
}

/** The upstream response head as the core hands it to transforms (hop-by-hop already removed). */
export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}

/** Receives the upstream body for one response. */
export interface TransformSession {
  /** Returns false to ask the core to pause the upstream until `resume` is called. */
  data(chunk: Buffer): boolean;
  end(): void;
  /** The upstream failed mid-body. */
  error(err: Error): void;
}

export interface SessionContext {
  route: RouteInfo;
  log: Logger;
  requestId: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Ask the core to resume a paused upstream. */
  resume(): void;
}

/**
 * Compiled per route at startup. Returns null when no transform matches this response, in which
 * case the core pipes the body untouched.
 */
export type TransformPlanner = (head: ResponseHead, sink: ResponseSink, ctx: SessionContext) => TransformSession | null;
