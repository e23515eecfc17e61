/**
 * The budget check of a budgeted route (spec §12), after auth and rate limit, before forwarding.
 * A small JSON body (≤ 1 MB) is read first: its output cap sizes the hold, and an OpenAI chat
 * stream may get `include_usage` added; the body is then forwarded from memory (and replayable).
 * Larger or non-JSON bodies stream as usual, held at the budget's default `hold`.
 */
import type { Readable } from 'node:stream';
import type { CompiledRoute } from '../routing/table.js';
import { RelayError } from '../errors.js';
import { estimateSpend } from '../budgets/estimate.js';
import { injectIncludeUsage, isChatCompletionsPath } from '../budgets/inject.js';
import { USAGE_MAX_BYTES } from '../usage/tap.js';
import { collect, type Collecting } from './collect.js';
import type { UploadGuard } from './upload-guard.js';
import type { Exchange } from './context.js';

export interface Prepared {
  /** The body as it goes upstream (include_usage may have been added). */
  body: Buffer;
  /** The relay asked for usage: its chunk is left out of the client's stream. */
  stripUsage: boolean;
}

export function budgetGate(
  x: Exchange,
  r: CompiledRoute,
  up: { guard: UploadGuard | undefined; collecting: Collecting | undefined },
  /** The body: already read (the cache keyed it), a stream not read yet, or none. */
  body: Readable | Buffer | null,
  next: (pre: Prepared | undefined) => void,
  reject: (err: RelayError) => void,
  gone: () => void,
): void {
  const budgets = r.budgets!;
  const req = x.req;
  const cl = req.headers['content-length'];
  const n = cl === undefined ? NaN : Number(cl);
  const ct = req.headers['content-type'];
  const small = n > 0 && n <= Math.min(USAGE_MAX_BYTES, x.table.maxBodySize) && typeof ct === 'string' && ct.includes('json');
  const admit = (buf: Buffer | undefined) => {
    let doc: unknown;
    if (buf) {
      try {
        doc = JSON.parse(buf.toString('utf8'));
      } catch {
        /* not JSON after all: forwarded as is, held at the default */
      }
    }
    const estimate = estimateSpend(doc, buf ? buf.length : Number.isFinite(n) ? n : 0);
    let pre: Prepared | undefined = buf ? { body: buf, stripUsage: false } : undefined;
    if (buf && doc !== undefined && r.usage && budgets.countsTokens && isChatCompletionsPath(x.routePath)) {
      const injected = injectIncludeUsage(buf, doc);
      if (injected) pre = { body: injected, stripUsage: true };
    }
    budgets.admit({ client: x.client, user: x.user, ip: x.ip }, estimate, x.requestId).then(
      (t) => {
        if (t instanceof RelayError) {
          x.budgetRefusal = t.type as 'budget_exceeded' | 'budget_unavailable';
          return reject(t);
        }
        if (t) {
          x.budget = t;
          Object.assign(x.relayHeaders, t.headers);
        }
        if (x.res.destroyed) return gone();
        next(pre);
      },
      // admit() handles store failures itself; anything else is a bug: refuse this one request.
      (err: unknown) => {
        x.log.error({ err, req_id: x.requestId }, 'budget check failed');
        reject(new RelayError('internal_error', 'internal relay error'));
      },
    );
  };
  if (Buffer.isBuffer(body)) return admit(body.length && body.length <= USAGE_MAX_BYTES && typeof ct === 'string' && ct.includes('json') ? body : undefined);
  if (!small || !body) return admit(undefined);
  up.collecting = collect(body, up.guard, (buf) => {
    up.collecting = undefined;
    if (!buf) return gone(); // the client went away while uploading
    admit(buf);
  });
}
