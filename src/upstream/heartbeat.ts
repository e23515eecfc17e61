/**
 * SSE keep-alive (spec §4 step 8): while an event stream is silent for `interval`, write a
 * `: keep-alive` comment — but only at an event boundary, so a comment never splits an event.
 */
export interface Heartbeat {
  /** Note bytes the upstream sent (resets the silence clock, tracks the event boundary). */
  saw(chunk: Buffer): void;
  /** Write one comment now (early start). */
  tick(): void;
  stop(): void;
}

const COMMENT = ': keep-alive\n\n';

export function createHeartbeat(interval: number, write: (s: string) => void): Heartbeat {
  let atBoundary = true;
  let last = 0; // last byte of the previous chunk (for "\n" + "\n" across chunks)
  let lastData = performance.now();
  let timer: NodeJS.Timeout | undefined = setInterval(() => {
    if (performance.now() - lastData >= interval - 5 && atBoundary) write(COMMENT);
  }, interval);
  timer.unref();
  return {
    saw(chunk) {
      lastData = performance.now();
      const n = chunk.length;
      if (n === 0) return;
      const a = chunk[n - 1];
      const b = n > 1 ? chunk[n - 2] : last;
      // An event ends with a blank line: "\n\n" (or "\r\n\r\n", whose last two bytes are "\r\n"
      // preceded by "\n" — checked loosely as the last byte "\n" after another "\n" or "\r\n").
      atBoundary = a === 10 && (b === 10 || (b === 13 && n > 2 && chunk[n - 3] === 10));
      last = a!;
    },
    tick() {
      write(COMMENT);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
