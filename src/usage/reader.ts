/**
 * Follows the usage reports of one response, whatever API it came from, one JSON document at a
 * time (a whole JSON body, an element of Gemini's JSON-array stream, or the data of one SSE
 * event). The shapes are told apart by their fields, so one route can front several APIs:
 *
 * - OpenAI chat/completions, embeddings, images, GigaChat: `usage` (streamed: the chunk with
 *   `choices: []` before `[DONE]`; the others carry `usage: null`);
 * - OpenAI Responses: `response.completed | incomplete | failed` → `response.usage`;
 * - Gemini: `usageMetadata` on every chunk is a running total — the last one wins, never a sum;
 * - Anthropic Messages: input from `message_start`, output from the last `message_delta`
 *   (cumulative as well).
 */
import { fromGeminiUsage, fromUsageObject, isObj, type Usage } from './usage.js';

export class UsageReader {
  private last: Usage | undefined;
  /** Anthropic streams report input and output in different events. */
  private anthropic: { input: number; output: number } | undefined;

  see(doc: unknown): void {
    if (Array.isArray(doc)) {
      for (const el of doc) this.see(el);
      return;
    }
    if (!isObj(doc)) return;
    const type = doc.type;
    if (type === 'message_start' && isObj(doc.message)) {
      const u = fromUsageObject(doc.message.usage);
      if (u) this.anthropic = { input: u.input, output: u.output };
      return;
    }
    if (type === 'message_delta') {
      const u = isObj(doc.usage) ? doc.usage : undefined;
      if (!u) return;
      const a = (this.anthropic ??= { input: 0, output: 0 });
      if (typeof u.output_tokens === 'number') a.output = u.output_tokens;
      // Newer API versions repeat the (cumulative) input counts here as well.
      if (typeof u.input_tokens === 'number') a.input = fromUsageObject(u)!.input;
      return;
    }
    if (typeof type === 'string' && type.startsWith('response.') && isObj(doc.response)) {
      const u = fromUsageObject(doc.response.usage);
      if (u) this.last = u;
      return;
    }
    if ('usageMetadata' in doc) {
      const u = fromGeminiUsage(doc.usageMetadata);
      if (u) this.last = u;
      return;
    }
    const u = fromUsageObject(doc.usage);
    if (u) this.last = u;
  }

  get usage(): Usage | undefined {
    if (this.anthropic) return { ...this.anthropic, total: this.anthropic.input + this.anthropic.output };
    return this.last;
  }
}

/** The usage-only chunk of an OpenAI chat stream (what `include_usage` adds before `[DONE]`). */
export function isUsageOnlyChunk(doc: unknown): boolean {
  return isObj(doc) && Array.isArray(doc.choices) && doc.choices.length === 0 && isObj(doc.usage);
}
