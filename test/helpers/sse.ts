/** Server-sent events helpers for streaming tests: a writer for fake upstreams and a timed reader. */
import type { ServerResponse } from 'node:http';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `fn()` is true, polling; rejects after `timeoutMs`. */
export async function waitFor(fn: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Starts an SSE response on a fake upstream. */
export function sseHead(res: ServerResponse, extra: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...extra });
  res.flushHeaders();
}

export function sseEvent(data: string): string {
  return `data: ${data}\n\n`;
}

/** A single-use gate: `open()` resolves `wait`. Lets a fake upstream hold its next event until the client saw one. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}
