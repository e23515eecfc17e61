/**
 * Token usage as the relay records it: input, output and total, whatever the API calls them.
 * Normalisers for the usage objects of each API shape; they never throw on odd input (a field
 * that is not a finite number counts as absent).
 */
export interface Usage {
  input: number;
  output: number;
  total: number;
}

type Obj = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * OpenAI chat/completions, embeddings and GigaChat (`prompt_tokens`/`completion_tokens`);
 * OpenAI Responses and images (`input_tokens`/`output_tokens`); Anthropic (`input_tokens` plus
 * the cache fields, which are billed input on top of it).
 */
export function fromUsageObject(u: unknown): Usage | undefined {
  if (!isObj(u)) return undefined;
  const prompt = num(u.prompt_tokens);
  const completion = num(u.completion_tokens);
  if (prompt !== undefined || completion !== undefined) {
    const input = prompt ?? 0;
    const output = completion ?? 0;
    return { input, output, total: num(u.total_tokens) ?? input + output };
  }
  const inTok = num(u.input_tokens);
  const outTok = num(u.output_tokens);
  if (inTok !== undefined || outTok !== undefined) {
    const input = (inTok ?? 0) + (num(u.cache_creation_input_tokens) ?? 0) + (num(u.cache_read_input_tokens) ?? 0);
    const output = outTok ?? 0;
    return { input, output, total: num(u.total_tokens) ?? input + output };
  }
  return undefined;
}

/** Gemini `usageMetadata`: thoughts are billed as output, tool-use prompts as input. */
export function fromGeminiUsage(u: unknown): Usage | undefined {
  if (!isObj(u)) return undefined;
  const prompt = num(u.promptTokenCount);
  const cand = num(u.candidatesTokenCount);
  const total = num(u.totalTokenCount);
  if (prompt === undefined && cand === undefined && total === undefined) return undefined;
  const input = (prompt ?? 0) + (num(u.toolUsePromptTokenCount) ?? 0);
  const output = (cand ?? 0) + (num(u.thoughtsTokenCount) ?? 0);
  return { input, output, total: total ?? input + output };
}
