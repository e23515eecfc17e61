/**
 * Watches a server-sent event stream as it passes, to tell whether it ended cleanly: `data:
 * [DONE]` (OpenAI, GigaChat), or the upstream closed at an event boundary after at least one
 * event (Gemini `alt=sse` sends no [DONE]). An error event — `event: error`, or a `data:` JSON
 * whose top level has `error` — makes the stream unstorable whatever follows.
 *
 * Cheap per chunk: lines are found with Buffer.indexOf on the chunk itself (no copy, no decode);
 * only a line that mentions `error` or `[DONE]` is decoded, and only a line cut between two
 * chunks is joined.
 */
const NL = 0x0a;

export class SseWatch {
  errored = false;
  sawDone = false;
  sawEvent = false;
  /** An incomplete last line (rare: upstreams flush whole events). */
  private pending: Buffer | undefined;
  /** The last bytes of the stream, to tell whether it ends on an event boundary. */
  private tail = '';

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.tail = (this.tail + chunk.subarray(Math.max(0, chunk.length - 4)).toString('latin1')).slice(-4);
    let start = 0;
    let nl = chunk.indexOf(NL);
    if (this.pending) {
      if (nl === -1) {
        // Bounded: a line longer than this is not an event we need to read.
        if (this.pending.length < 64 * 1024) this.pending = Buffer.concat([this.pending, chunk]);
        return;
      }
      this.line(Buffer.concat([this.pending, chunk.subarray(0, nl)]));
      this.pending = undefined;
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
    }
    while (nl !== -1) {
      this.line(chunk.subarray(start, nl));
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
    }
    if (start < chunk.length) this.pending = chunk.subarray(start);
  }

  private line(l: Buffer): void {
    // 'd' 'a' 't' 'a' ':'
    if (l.length >= 5 && l[0] === 0x64 && l[1] === 0x61 && l[2] === 0x74 && l[3] === 0x61 && l[4] === 0x3a) {
      this.sawEvent = true;
      if (l.indexOf('[DONE]') !== -1 && l.toString('latin1', 5).trim() === '[DONE]') this.sawDone = true;
      else if (l.indexOf('error') !== -1) {
        const payload = l.toString('utf8', 5).trim();
        if (payload.startsWith('{')) {
          try {
            const doc = JSON.parse(payload) as unknown;
            if (doc && typeof doc === 'object' && !Array.isArray(doc) && (doc as Record<string, unknown>).error != null) this.errored = true;
          } catch {
            /* a data line that is not JSON: not an error event */
          }
        }
      }
      return;
    }
    // 'e' 'v' 'e' 'n' 't' ':'
    if (l.length >= 6 && l[0] === 0x65 && l.toString('latin1', 0, 6) === 'event:' && l.toString('latin1', 6).trim() === 'error') this.errored = true;
  }

  /** After the upstream ended normally: may the recorded stream be replayed as complete? */
  clean(): boolean {
    if (this.errored) return false;
    if (this.sawDone) return true;
    const t = this.tail;
    return this.sawEvent && (t.endsWith('\n\n') || t.endsWith('\r\n\r\n') || t.endsWith('\r\r'));
  }
}
