/** Request ids (spec §10): a sane incoming X-Request-Id is kept, anything else replaced. */
import { randomUUID } from 'node:crypto';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * New ids are UUID-shaped: the first 80 bits come from one randomUUID() per process (so ids from
 * different processes, workers and restarts do not collide) and the last 48 bits are a counter.
 * Unique, cheap (a string concat instead of a random UUID per request) and still sortable within
 * a process. Not a secret and not meant to be unguessable.
 */
let prefix: string | undefined;
let counter = 0;

function nextId(): string {
  if (prefix === undefined || counter >= 0xffffffffffff) {
    prefix = randomUUID().slice(0, 24);
    counter = 0;
  }
  const n = (counter++).toString(16);
  return prefix + (n.length < 12 ? '000000000000'.slice(n.length) + n : n);
}

export function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && SANE.test(incoming) ? incoming : nextId();
}
