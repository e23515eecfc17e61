/**
 * Per response: which compiled transforms apply (status and headers only), and which kind of
 * session handles the body — event by event for text/event-stream, whole body otherwise.
 */
import type { Logger } from '../log/logger.js';
import type { CompiledTransform, RouteInfo, TransformPlanner } from './types.js';
import { getHeader, mediaType, toHeaders } from './headers.js';
import { canDecode } from './decode.js';
import { BufferedSession } from './buffered-session.js';
import { SseSession } from './sse-session.js';

/** Statuses that never carry a body (RFC 9110 §6.4.1). */
function hasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

export function createPlanner(transforms: CompiledTransform[], opts: { route: RouteInfo; maxTransformSize: number; log: Logger }): TransformPlanner {
  const { route, maxTransformSize } = opts;
  return (head, sink, ctx) => {
    if (hasNoBody(head.status)) return null;
    const headers = toHeaders(head.headers);
    const matched = transforms.filter((t) => {
      try {
        return t.transform.match({ status: head.status, headers, route }) === true;
      } catch (err) {
        ctx.log.warn({ transform: t.transform.name, err }, 'transform match() threw; transform skipped');
        return false;
      }
    });
    if (matched.length === 0) return null;
    const names = matched.map((t) => t.transform.name);

    const encoding = getHeader(head.headers, 'content-encoding');
    if (!canDecode(encoding)) {
      ctx.log.warn({ transforms: names, contentEncoding: encoding }, 'cannot decode response body; sent untransformed');
      return null;
    }
    if (mediaType(head.headers) === 'text/event-stream') {
      return new SseSession(head, sink, ctx, matched, maxTransformSize);
    }
    // A declared length over the cap is known now: do not even start collecting.
    const declared = Number(getHeader(head.headers, 'content-length'));
    if (Number.isFinite(declared) && declared > maxTransformSize) {
      ctx.log.warn({ transforms: names, maxTransformSize, contentLength: declared }, 'response body exceeds maxTransformSize; sent untransformed');
      return null;
    }
    return new BufferedSession(head, sink, ctx, matched, maxTransformSize);
  };
}
