/**
 * `stream_options.include_usage` for OpenAI chat streams on token-budgeted routes: without it a
 * stream reports no usage at all. Only for a JSON body of a `…/chat/completions` request with
 * `"stream": true` that did not ask for usage itself; never for the Responses API (it refuses
 * `stream_options`) or any other path.
 *
 * The body is edited as text where it can be: with no `stream_options`, the member is inserted
 * right after the opening brace and every other byte stays as the client wrote it; an existing
 * `stream_options` object is merged (its other fields kept), which re-serialises the document.
 */
import { isObj } from '../usage/usage.js';

export interface Injected {
  body: Buffer;
}

const CHAT_PATH = /\/chat\/completions\/?$/;

export function isChatCompletionsPath(path: string): boolean {
  const q = path.indexOf('?');
  return CHAT_PATH.test(q < 0 ? path : path.slice(0, q));
}

/** The new body when usage had to be asked for; undefined when nothing changes. */
export function injectIncludeUsage(body: Buffer, doc: unknown): Buffer | undefined {
  if (!isObj(doc) || doc.stream !== true) return undefined;
  const so = doc.stream_options;
  if (isObj(so) && so.include_usage === true) return undefined; // the client asked: its chunk, as usual
  if (so === undefined) {
    const text = body.toString('utf8');
    const brace = text.indexOf('{');
    if (brace < 0) return undefined;
    const rest = text.slice(brace + 1);
    const sep = /^\s*}/.test(rest) ? '' : ',';
    return Buffer.from(`${text.slice(0, brace + 1)}"stream_options":{"include_usage":true}${sep}${rest}`, 'utf8');
  }
  const merged = { ...doc, stream_options: { ...(isObj(so) ? so : {}), include_usage: true } };
  return Buffer.from(JSON.stringify(merged), 'utf8');
}
