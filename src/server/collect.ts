/** Reads a (small, already size-checked) request body into memory; undefined when the client went away. */
import type { ClientRequest } from './context.js';

export function collect(req: ClientRequest, cb: (buf: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let done = false;
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => {
    if (!done) cb(Buffer.concat(chunks));
    done = true;
  });
  const gone = () => {
    if (!done) cb(undefined);
    done = true;
  };
  req.once('error', gone);
  req.once('close', gone);
}
