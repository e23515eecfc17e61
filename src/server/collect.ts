/**
 * Reads a (small, already size-checked) request body into memory: for a replay on a fresh key,
 * an early SSE start, or the budget gate. undefined when the client went away. Every chunk
 * touches the upload guard (a slow but moving upload is not idle); `cancel()` stops it when the
 * exchange was answered some other way (e.g. a stalled upload got its 408).
 */
import type { Readable } from 'node:stream';
import type { UploadGuard } from './upload-guard.js';

export interface Collecting {
  cancel(): void;
}

export function collect(req: Readable, upload: UploadGuard | undefined, cb: (buf: Buffer | undefined) => void): Collecting {
  const chunks: Buffer[] = [];
  let done = false;
  req.on('data', (c: Buffer) => {
    chunks.push(c);
    upload?.touch();
  });
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
  return {
    cancel() {
      done = true;
    },
  };
}
