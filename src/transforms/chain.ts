/**
 * Runs the matched transforms in order over one body, each bounded by its timeout. The result is
 * null when nothing changed, so the caller can send the original bytes with the original headers.
 */
import type { Logger } from '../log/logger.js';
import type { CompiledTransform, RouteInfo, TransformContext } from './types.js';

export class TransformTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`transform ${name} took longer than ${ms} ms`);
    this.name = 'TransformTimeoutError';
  }
}

export interface ChainInput {
  route: RouteInfo;
  status: number;
  /** Headers as the transforms see them (the body they get is decoded). */
  headers: Headers;
  log: Logger;
  signal: AbortSignal;
  event?: TransformContext['event'];
}

export interface ChainResult {
  body: Buffer;
  headers: Record<string, string>;
}

/** The error that stopped the chain, with the transform's name for the one warning line. */
export class TransformFailure extends Error {
  constructor(readonly transformName: string, cause: unknown) {
    super(`transform ${transformName} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'TransformFailure';
  }
}

async function runOne(t: CompiledTransform, body: Buffer, input: ChainInput, headers: Headers): Promise<Buffer | { body: Buffer; headers?: Record<string, string> }> {
  const timeout = new AbortController();
  const signal = AbortSignal.any([input.signal, timeout.signal]);
  const ctx: TransformContext = {
    route: input.route,
    status: input.status,
    headers,
    options: t.options,
    log: input.log,
    signal,
    ...(input.event ? { event: input.event } : {}),
  };
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TransformTimeoutError(t.transform.name, t.timeout);
      timeout.abort(err);
      reject(err);
    }, t.timeout);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => t.transform.transform(body, ctx)), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function asBuffer(v: unknown): Buffer | undefined {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return undefined;
}

export async function runChain(transforms: CompiledTransform[], body: Buffer, input: ChainInput): Promise<ChainResult | null> {
  let current = body;
  let changed = false;
  const headers = new Headers(input.headers);
  const changes: Record<string, string> = {};
  for (const t of transforms) {
    let out: unknown;
    try {
      out = await runOne(t, current, input, headers);
    } catch (err) {
      throw new TransformFailure(t.transform.name, err);
    }
    let next = asBuffer(out);
    if (!next && typeof out === 'object' && out !== null && 'body' in out) {
      next = asBuffer((out as { body: unknown }).body);
      const h = (out as { headers?: unknown }).headers;
      if (h !== undefined && h !== null) {
        if (typeof h !== 'object') throw new TransformFailure(t.transform.name, new TypeError('returned headers must be an object'));
        for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
          const value = String(v);
          if (/[\r\n\0]/.test(value)) throw new TransformFailure(t.transform.name, new TypeError(`header ${k} contains CR, LF or NUL`));
          changes[k.toLowerCase()] = value;
          headers.set(k, value);
          changed = true;
        }
      }
    }
    if (!next) throw new TransformFailure(t.transform.name, new TypeError('transform must return a Buffer or { body: Buffer, headers? }'));
    if (next !== current && !next.equals(current)) changed = true;
    current = next;
  }
  return changed ? { body: current, headers: changes } : null;
}
