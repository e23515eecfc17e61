/**
 * What a request may spend, before it is forwarded: its output cap (the fields the APIs use for
 * it, or the budget's `hold`) plus an input estimate of one token per four body bytes.
 */
import { isObj } from '../usage/usage.js';

export interface SpendEstimate {
  /** Output cap the request names, if any. */
  outputCap: number | undefined;
  /** Input tokens guessed from the body size. */
  input: number;
}

const capOf = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.ceil(v) : undefined);

export function estimateSpend(doc: unknown, bodyBytes: number): SpendEstimate {
  let outputCap: number | undefined;
  if (isObj(doc)) {
    outputCap =
      capOf(doc.max_completion_tokens) ??
      capOf(doc.max_tokens) ??
      capOf(doc.max_output_tokens) ??
      (isObj(doc.generationConfig) ? capOf(doc.generationConfig.maxOutputTokens) : undefined);
  }
  return { outputCap, input: Math.ceil(bodyBytes / 4) };
}

/** The hold of one tokens budget for a request. */
export function holdFor(e: SpendEstimate, count: 'input' | 'output' | 'total', defaultHold: number): number {
  const output = e.outputCap ?? defaultHold;
  const n = count === 'input' ? e.input : count === 'output' ? output : e.input + output;
  return Math.max(1, n);
}
