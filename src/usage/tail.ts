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

/** A rolling window over the last TAIL_BYTES of a byte stream (latin1: usage fields are ASCII). */
export class Tail {
  private text = '';

  push(chunk: Buffer): void {
    const piece = chunk.length > TAIL_BYTES ? chunk.subarray(chunk.length - TAIL_BYTES) : chunk;
    this.text += piece.toString('latin1');
    if (this.text.length > TAIL_BYTES) this.text = this.text.slice(this.text.length - TAIL_BYTES);
  }

  reset(): void {
    this.text = '';
  }

  get value(): string {
    return this.text;
  }
}
