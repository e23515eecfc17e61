/** Relay-generated answers: JSON errors in the OpenAI error shape, and small JSON documents. */
import { errorBody, type RelayError } from '../errors.js';
import type { Exchange } from './context.js';
import { writeHead } from '../upstream/forward.js';

export function sendError(x: Exchange, err: RelayError): void {
  const res = x.res;
  x.status = err.status;
  x.errorType = err.type;
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body = errorBody(err, x.route?.name, x.requestId);
  const message = x.table.redactor.size ? x.table.redactor.scrub(body) : body;
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(message)),
    'cache-control': 'no-store',
  };
  if (err.headers) Object.assign(headers, err.headers);
  // A body we refused or stopped reading must not be parsed as the next request on this
  // connection (one we never touched is drained by Node; one we began to read is not).
  if (!x.req.complete && (err.type === 'body_too_large' || err.type === 'request_timeout' || x.req.readableDidRead)) headers.connection = 'close';
  x.bytesOut += Buffer.byteLength(message);
  writeHead(x, err.status, headers);
  res.end(x.method === 'HEAD' ? undefined : message);
}

export function sendJson(x: Exchange, status: number, doc: unknown, extra?: Record<string, string>): void {
  const body = JSON.stringify(doc);
  x.status = status;
  x.bytesOut += Buffer.byteLength(body);
  x.res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-request-id': x.requestId,
    ...extra,
  });
  x.res.end(x.method === 'HEAD' ? undefined : body);
}
