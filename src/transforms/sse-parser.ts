/**
 * Incremental splitter for text/event-stream (WHATWG HTML §9.2.6). It cuts the byte stream into
 * whole events (everything up to and including the blank line) and hands each one over as the
 * exact upstream bytes, so an event nobody rewrites is forwarded byte for byte. There is no line
 * length limit — a Gemini image event is several MB on one `data:` line — only a per-event cap,
 * past which the event is forwarded raw as it arrives instead of being held.
 *
 * Line ends may be CRLF, LF or CR, and may be split across chunks anywhere.
 */

export type SseItem =
  /** One complete event (or a lone blank line), bytes exactly as received. */
  | { kind: 'event'; raw: Buffer }
  /** Bytes to forward untouched: pieces of an over-cap event, or the LF of a CRLF split after an event. */
  | { kind: 'raw'; raw: Buffer };

const LF = 0x0a;
const CR = 0x0d;

export class SseParser {
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** The next byte starts a line of the current event. */
  private atLineStart = true;
  /** The previous chunk ended with CR: an LF now completes that CRLF. */
  private pendingLF = false;
  /** …and that CR was the blank line that ended an event. */
  private crEndedEvent = false;
  /** The current event outgrew maxEvent and is being forwarded raw. */
  private oversize = false;

  constructor(
    private readonly maxEvent: number,
    private readonly emit: (item: SseItem) => void,
    private readonly onOversize: () => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    const len = chunk.length;
    let start = 0;
    let pos = 0;
    if (this.pendingLF && len > 0) {
      this.pendingLF = false;
      if (chunk[0] === LF) {
        pos = 1;
        if (this.crEndedEvent) {
          this.emit({ kind: 'raw', raw: chunk.subarray(0, 1) });
          start = 1;
        }
      }
      this.crEndedEvent = false;
    }
    // Cached next positions: a multi-MB line without CR must not be rescanned for CR per line.
    let nextLF = -2;
    let nextCR = -2;
    while (pos < len) {
      if (nextLF !== -1 && nextLF < pos) nextLF = chunk.indexOf(LF, pos);
      if (nextCR !== -1 && nextCR < pos) nextCR = chunk.indexOf(CR, pos);
      const i = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      if (i === -1) {
        this.atLineStart = false;
        break;
      }
      const blank = this.atLineStart && i === pos;
      let end = i + 1;
      let crAtChunkEnd = false;
      if (chunk[i] === CR) {
        if (end < len) {
          if (chunk[end] === LF) end++;
        } else {
          crAtChunkEnd = true;
        }
      }
      pos = end;
      this.atLineStart = true;
      if (crAtChunkEnd) this.pendingLF = true;
      if (blank) {
        this.dispatch(chunk.subarray(start, end));
        start = end;
        this.crEndedEvent = crAtChunkEnd;
      }
    }
    if (start < len) this.store(chunk.subarray(start));
  }

  /** Upstream ended: an unterminated last event is forwarded as is (clients discard it anyway). */
  end(): void {
    if (this.partsLen > 0) this.emit({ kind: 'raw', raw: Buffer.concat(this.parts, this.partsLen) });
    this.parts = [];
    this.partsLen = 0;
  }

  private store(piece: Buffer): void {
    if (this.oversize) {
      this.emit({ kind: 'raw', raw: piece });
      return;
    }
    this.parts.push(piece);
    this.partsLen += piece.length;
    if (this.partsLen > this.maxEvent) {
      this.oversize = true;
      this.onOversize();
      this.emit({ kind: 'raw', raw: Buffer.concat(this.parts, this.partsLen) });
      this.parts = [];
      this.partsLen = 0;
    }
  }

  private dispatch(lastPiece: Buffer): void {
    if (this.oversize) {
      this.oversize = false;
      this.emit({ kind: 'raw', raw: lastPiece });
      return;
    }
    const raw = this.partsLen === 0 ? lastPiece : Buffer.concat([...this.parts, lastPiece], this.partsLen + lastPiece.length);
    this.parts = [];
    this.partsLen = 0;
    this.emit({ kind: 'event', raw });
  }
}

export interface ParsedEvent {
  /** The `data:` lines joined with LF, or undefined when the event has none. */
  data: string | undefined;
  /** The `event:` field. */
  name: string | undefined;
  id: string | undefined;
}

interface Line {
  text: string;
  eol: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const re = /\r\n|\r|\n/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    lines.push({ text: text.slice(last, m.index), eol: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) lines.push({ text: text.slice(last), eol: '' });
  return lines;
}

function field(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon < 0) return [line, ''];
  let value = line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  return [line.slice(0, colon), value];
}

export function parseEvent(raw: string): ParsedEvent {
  let data: string[] | undefined;
  let name: string | undefined;
  let id: string | undefined;
  for (const { text } of splitLines(raw)) {
    if (text === '' || text.startsWith(':')) continue;
    const [k, v] = field(text);
    if (k === 'data') (data ??= []).push(v);
    else if (k === 'event') name = v;
    else if (k === 'id') id = v;
  }
  return { data: data?.join('\n'), name, id };
}

/**
 * The same event with its data replaced: other lines (event, id, retry, comments) keep their
 * place and bytes; the data lines become `data: …` lines at the position of the first one, using
 * the event's own line ending.
 */
export function replaceEventData(raw: string, data: string): string {
  const lines = splitLines(raw);
  const eol = lines.find((l) => l.eol !== '')?.eol ?? '\n';
  let out = '';
  let written = false;
  for (const line of lines) {
    if (line.text !== '' && !line.text.startsWith(':') && field(line.text)[0] === 'data') {
      if (!written) {
        for (const part of data.split(/\r\n|\r|\n/)) out += `data: ${part}${eol}`;
        written = true;
      }
      continue;
    }
    out += line.text + line.eol;
  }
  return out;
}
