/**
 * Base64 decoding of multi-megabyte image payloads without holding the event loop: the text is
 * decoded straight from the response bytes (no 4.5 MB JS string) in slices of ~1 ms each, with a
 * turn of the event loop between slices so small requests on other routes are served meanwhile.
 */

/**
 * Characters decoded per step: small enough that each temporary string is an ordinary young
 * object, freed by a cheap scavenge (1 MB strings went to the large-object space and cost a full
 * mark-compact every few images), and a multiple of 4 so each step decodes on its own.
 */
export const DECODE_STEP = 1 << 16;

/** Characters decoded between turns of the event loop: ~0.5–1 ms of work. */
export const DECODE_SLICE = 1 << 20;

const EQUALS = 0x3d;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Decodes standard or URL-safe base64 held as ASCII bytes. Returns undefined when the text is not
 * clean base64: Node's decoder silently skips characters outside the alphabet (and stops at a
 * misplaced `=`), so a decoded length different from the one the text length implies means the
 * text had something else in it.
 */
export async function decodeBase64(text: Buffer, sizes: { step?: number; slice?: number } = {}): Promise<Buffer | undefined> {
  const step = Math.max(4, (sizes.step ?? DECODE_STEP) & ~3);
  const slice = Math.max(step, sizes.slice ?? DECODE_SLICE);
  let n = text.length;
  if (n > 0 && text[n - 1] === EQUALS) n--;
  if (n > 0 && text[n - 1] === EQUALS) n--;
  if (n % 4 === 1) return undefined;
  const expected = Math.floor((n * 3) / 4);
  const out = Buffer.allocUnsafe(expected);
  let written = 0;
  let sinceTurn = 0;
  for (let i = 0; i < text.length; i += step) {
    if (sinceTurn >= slice) {
      sinceTurn = 0;
      await nextTurn();
    }
    sinceTurn += step;
    const end = Math.min(text.length, i + step);
    const got = out.write(text.toString('latin1', i, end), written, 'base64');
    // A short step (not the last) means characters were skipped: not base64.
    if (end < text.length && got !== ((end - i) / 4) * 3) return undefined;
    written += got;
  }
  return written === expected ? out : undefined;
}

/**
 * True when the text uses the URL-safe alphabet, so the replacement can use it too. The two
 * alphabets differ in two characters each, and one of the four turns up within the first few
 * hundred characters of any real image, so a window decides without scanning megabytes.
 */
export function isBase64UrlBytes(text: Buffer, window = 64 * 1024): boolean {
  const head = text.subarray(0, window);
  if (head.indexOf(0x2d) >= 0 || head.indexOf(0x5f) >= 0) return true; // '-' or '_'
  if (head.indexOf(0x2b) >= 0 || head.indexOf(0x2f) >= 0) return false; // '+' or '/'
  return text.length > window && (text.indexOf(0x2d, window) >= 0 || text.indexOf(0x5f, window) >= 0);
}
