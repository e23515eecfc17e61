/**
 * Keeps multi-megabyte strings out of JSON.parse / JSON.stringify (issue #8).
 *
 * An image response is a few hundred bytes of structure around one huge base64 string. Parsing
 * it walks every character of that string on the event loop (~10 ms for 4.5 MB), and so do
 * `toString('utf8')`, stringify and the Buffer conversion after it. Instead, the raw bytes are
 * scanned for string literals with `Buffer#indexOf` (memchr, off the JS heap), each long
 * escape-free string is *lifted out* and replaced by a short placeholder, and only that small
 * skeleton is parsed. The slot search and the sibling rewrites (mimeType, output_format) then run
 * on the skeleton exactly as they would on the whole document; on output the skeleton is
 * stringified and every placeholder left in it is replaced by the original bytes, untouched.
 */
import { randomBytes } from 'node:crypto';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Strings at least this long (in bytes) are lifted; a 1×1 PNG in base64 is ~90 characters. */
export const DEFAULT_LIFT_MIN = 1024;

export interface LiftedJson {
  /** The JSON text with each lifted string replaced by a placeholder string. */
  skeleton: string;
  /** The raw bytes (without quotes) behind a placeholder value, or undefined for any other string. */
  raw(value: string): Buffer | undefined;
  /**
   * A placeholder for new string content given as bytes that are already valid inside a JSON
   * string (base64, a data URL): serialise splices them in as they are, so a converted image is
   * never walked by JSON.stringify or re-encoded.
   */
  stand(bytes: Buffer): string;
  /** Serialises `root` (the parsed, possibly edited skeleton) with the lifted bytes put back. */
  serialise(root: unknown): Buffer;
}

/**
 * Scans `body` (UTF-8 JSON text) and lifts every string literal of `liftMin` bytes or more that
 * contains no backslash. Returns undefined when a string literal is unterminated (not JSON: the
 * caller's JSON.parse will say so).
 */
export function liftLongStrings(body: Buffer, liftMin = DEFAULT_LIFT_MIN): LiftedJson | undefined {
  const ranges = findLongStrings(body, liftMin);
  if (!ranges) return undefined;

  // The NUL cannot appear raw in a JSON string, and the nonce makes a collision with an escaped
  // one in the document practically impossible.
  const marker = `\u0000ai-relay:${randomBytes(6).toString('hex')}:`;
  const markerJson = JSON.stringify(marker).slice(0, -1); // `"\u0000ai-relay:…:` as it appears in JSON text
  /** Bytes behind placeholder n: lifted ranges of the body first, then stand() additions. */
  const pieces: Buffer[] = [];
  let skeleton: string;
  if (ranges.length === 0) skeleton = body.toString('utf8');
  else {
    const parts: string[] = [];
    let last = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      parts.push(body.toString('utf8', last, ranges[i]! - 1), `${markerJson}${i / 2}"`);
      pieces.push(body.subarray(ranges[i]!, ranges[i + 1]!));
      last = ranges[i + 1]! + 1;
    }
    parts.push(body.toString('utf8', last));
    skeleton = parts.join('');
  }

  const indexOf = (value: string): number => {
    if (value.length <= marker.length || value.charCodeAt(0) !== 0 || !value.startsWith(marker)) return -1;
    const n = Number(value.slice(marker.length));
    return Number.isInteger(n) && n >= 0 && n < pieces.length ? n : -1;
  };

  return {
    skeleton,
    raw(value) {
      const n = indexOf(value);
      return n < 0 ? undefined : pieces[n];
    },
    stand(bytes) {
      pieces.push(bytes);
      return `${marker}${pieces.length - 1}`;
    },
    serialise(root) {
      const text = JSON.stringify(root);
      if (pieces.length === 0) return Buffer.from(text, 'utf8');
      const out: Buffer[] = [];
      let from = 0;
      for (;;) {
        const at = text.indexOf(markerJson, from);
        if (at < 0) break;
        const end = text.indexOf('"', at + markerJson.length);
        const n = Number(text.slice(at + markerJson.length, end));
        out.push(Buffer.from(text.slice(from, at + 1), 'utf8'), pieces[n]!);
        from = end;
      }
      out.push(Buffer.from(text.slice(from), 'utf8'));
      return Buffer.concat(out);
    },
  };
}

/** start, end pairs (exclusive of the quotes) of long escape-free string literals; undefined if one is unterminated. */
function findLongStrings(body: Buffer, liftMin: number): number[] | undefined {
  const ranges: number[] = [];
  if (body.length < liftMin) return ranges;
  let nextBackslash = body.indexOf(BACKSLASH);
  if (nextBackslash < 0) nextBackslash = Infinity;
  let pos = 0;
  for (;;) {
    const open = body.indexOf(QUOTE, pos);
    if (open < 0) break;
    let p = open + 1;
    let escaped = false;
    let close: number;
    for (;;) {
      const q = body.indexOf(QUOTE, p);
      if (q < 0) return undefined;
      if (nextBackslash < p) {
        nextBackslash = body.indexOf(BACKSLASH, p);
        if (nextBackslash < 0) nextBackslash = Infinity;
      }
      if (nextBackslash < q) {
        // An escape: the next byte is part of it (it may be the quote), so resume after it.
        escaped = true;
        p = nextBackslash + 2;
        continue;
      }
      close = q;
      break;
    }
    if (!escaped && close - open - 1 >= liftMin) ranges.push(open + 1, close);
    pos = close + 1;
  }
  return ranges;
}
