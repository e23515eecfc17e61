/**
 * Error responses that echo a configured secret (Gemini repeats a bad API key in its 400) are
 * scrubbed to [redacted] before the client sees them (spec §4 step 9). Only bounded error bodies
 * are collected; a larger one passes untouched, as does one that holds no secret (byte for byte).
 */
import type { Redactor } from '../log/redact.js';
import { canDecode, decodeBody } from '../transforms/decode.js';
import { getHeader, rewrittenHeaders } from '../transforms/headers.js';
import type { ResponseHead, ResponseSink, TransformSession } from '../transforms/types.js';

/** Error bodies larger than this are not inspected (APIs' error JSON is a few hundred bytes). */
export const SCRUB_LIMIT = 256 * 1024;

export function createScrubSession(head: ResponseHead, sink: ResponseSink, redactor: Redactor, limit = SCRUB_LIMIT): TransformSession | null {
  const enc = getHeader(head.headers, 'content-encoding');
  if (!canDecode(enc)) return null;
  const declared = Number(getHeader(head.headers, 'content-length') ?? NaN);
  if (declared > limit) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  let passing = false;
  const passThrough = () => {
    passing = true;
    sink.writeHead(head.status, head.headers);
    for (const c of chunks) sink.write(c);
    chunks.length = 0;
  };
  return {
    data(chunk) {
      if (passing) return sink.write(chunk);
      size += chunk.length;
      chunks.push(chunk);
      if (size > limit) passThrough();
      return true;
    },
    end() {
      if (passing) return sink.end();
      const raw = Buffer.concat(chunks);
      decodeBody(raw, enc, limit * 8).then(
        (plain) => {
          const text = plain.toString('utf8');
          if (!redactor.has(text)) {
            sink.writeHead(head.status, head.headers);
            sink.write(raw);
            return sink.end();
          }
          const body = Buffer.from(redactor.scrub(text));
          sink.writeHead(head.status, rewrittenHeaders(head.headers, {}, body.length));
          sink.write(body);
          sink.end();
        },
        () => {
          sink.writeHead(head.status, head.headers);
          sink.write(raw);
          sink.end();
        },
      );
    },
    error(err) {
      sink.destroy(err);
    },
  };
}
