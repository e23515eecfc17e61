/**
 * Usage from the end of a document too large to parse (a multi-MB image answer). The APIs put
 * usage after the payload (`usage` after OpenAI's `data[]`, `usageMetadata` after Gemini's
 * `candidates`), so the last `"usage"` / `"usageMetadata"` member in the final bytes is cut out
 * by brace matching (strings and escapes respected) and parsed alone. Undefined when there is
 * none, or it is not complete yet.
 */
const KEYS = ['usageMetadata', 'usage'] as const;

/** Bytes kept from the end of an oversized body or event. */
export const TAIL_BYTES = 64 * 1024;

export function usageInTail(text: string): Record<string, unknown> | undefined {
  for (const key of KEYS) {
    const at = text.lastIndexOf(`"${key}"`);
    if (at < 0) continue;
    let i = at + key.length + 2;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] !== ':') continue;
    i++;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] !== '{') continue;
    const end = closingBrace(text, i);
    if (end < 0) return undefined;
    try {
      return { [key]: JSON.parse(text.slice(i, end + 1)) as unknown };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function closingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

/**
 * The last TAIL_BYTES (at least) of a byte stream, kept as references to its chunks: nothing is
 * copied or decoded until `value` is read, once, at the end. (Decoding every chunk of a
 * multi-MB image answer into a rolling string put ~2x its size of garbage on the V8 heap per
 * answer and brought back one full GC per image conversion.)
 */
export class Tail {
  private parts: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    // Whole chunks leave from the front while the rest still covers TAIL_BYTES.
    while (this.parts.length > 1 && this.size - this.parts[0]!.length >= TAIL_BYTES) this.size -= this.parts.shift()!.length;
  }

  /** Whether `needle` (ASCII) is in the newest chunk, or across the edge before it. */
  newestMentions(needle: string): boolean {
    const last = this.parts[this.parts.length - 1];
    if (!last) return false;
    if (last.indexOf(needle, 0, 'latin1') !== -1) return true;
    const prev = this.parts[this.parts.length - 2];
    if (!prev) return false;
    const k = needle.length - 1;
    return Buffer.concat([prev.subarray(Math.max(0, prev.length - k)), last.subarray(0, k)]).indexOf(needle, 0, 'latin1') !== -1;
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
  }

  /** The last TAIL_BYTES as text (latin1: usage fields are ASCII). */
  get value(): string {
    const b = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    return b.toString('latin1', Math.max(0, b.length - TAIL_BYTES));
  }
}
