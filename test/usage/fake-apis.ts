/**
 * One fake upstream answering as each AI API does (shapes from reliability.md / identity-budgets.md
 * §2), JSON and SSE, with realistic usage fields. It records every request, so tests can assert
 * what crossed the relay (an injected `stream_options`, for one).
 *
 * Paths (after the relay's prefix):
 *   /v1/chat/completions        OpenAI chat; `"stream": true` streams; usage chunk only with include_usage
 *   /gigachat/chat/completions  GigaChat: usage on the last content chunk, no opt-in
 *   /v1/responses               OpenAI Responses (response.completed; body.incomplete → response.incomplete)
 *   /v1/embeddings, /v1/images/generations (body.model gpt-image-1 → usage; dall-e-3 → none)
 *   /v1beta/models/m:generateContent, :streamGenerateContent (?alt=sse → SSE with CRLF, else JSON array)
 *   /v1/messages                Anthropic Messages (stream or not)
 */
import { gzipSync } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';

export const CHAT_USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };

const chatChunk = (delta: Record<string, unknown>, finish: string | null, usage: unknown) =>
  JSON.stringify({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1765000000, model: 'gpt-4o-mini', system_fingerprint: 'fp_1', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(usage === undefined ? {} : { usage }) });

export interface FakeApiOptions {
  /** Chat completion output tokens (usage) — lets budget tests spend exact amounts. */
  completionTokens?: number;
  promptTokens?: number;
  /** Delay between stream events (ms). */
  eventGap?: number;
  /** Called before a chat stream's final events; the test may hold the stream there. */
  beforeChatEnd?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startFakeApis(opts: FakeApiOptions = {}): Promise<FakeUpstream> {
  return startUpstream(async (req, res, rec) => {
    const url = new URL(req.url!, 'http://x');
    const p = url.pathname;
    let body: Record<string, any> = {};
    try {
      body = rec.body.length ? JSON.parse(rec.body.toString()) : {};
    } catch {
      /* not JSON */
    }
    const gap = opts.eventGap ?? 0;
    const json = (doc: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(200, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify(doc));
    };
    const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const send = async (s: string | Buffer) => {
      res.write(s);
      if (gap) await sleep(gap);
    };
    const prompt = opts.promptTokens ?? CHAT_USAGE.prompt_tokens;
    const completion = opts.completionTokens ?? CHAT_USAGE.completion_tokens;
    const chatUsage = { ...CHAT_USAGE, prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };

    if (p.endsWith('/v1/chat/completions')) {
      if (!body.stream) {
        const doc = { id: 'chatcmpl-9', object: 'chat.completion', created: 1765000000, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, logprobs: null, finish_reason: 'stop' }], usage: chatUsage };
        if (req.headers['accept-encoding']?.includes('gzip') && url.searchParams.has('gzip')) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
          return void res.end(gzipSync(JSON.stringify(doc)));
        }
        return json(doc);
      }
      const withUsage = body.stream_options?.include_usage === true;
      const u = withUsage ? null : undefined;
      sse();
      await send(`data: ${chatChunk({ role: 'assistant', content: '' }, null, u)}\n\n`);
      for (const part of ['Hel', 'lo', '!']) await send(`data: ${chatChunk({ content: part }, null, u)}\n\n`);
      if (url.searchParams.has('reset')) return void res.socket?.destroy(); // the upstream dies mid-stream
      await opts.beforeChatEnd?.();
      await send(`data: ${chatChunk({}, 'stop', u)}\n\n`);
      if (withUsage) await send(`data: ${JSON.stringify({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1765000000, model: 'gpt-4o-mini', system_fingerprint: 'fp_1', choices: [], usage: chatUsage })}\n\n`);
      await send('data: [DONE]\n\n');
      return void res.end();
    }
    if (p.endsWith('/gigachat/chat/completions')) {
      const usage = { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34, precached_prompt_tokens: 2 };
      if (!body.stream) return json({ choices: [{ message: { role: 'assistant', content: 'Привет' }, index: 0, finish_reason: 'stop' }], created: 1765000000, model: 'GigaChat', object: 'chat.completion', usage });
      sse();
      await send(`data: ${JSON.stringify({ choices: [{ delta: { content: 'При', role: 'assistant' }, index: 0 }], created: 1765000000, model: 'GigaChat', object: 'chat.completion' })}\n\n`);
      await send(`data: ${JSON.stringify({ choices: [{ delta: { content: 'вет' }, index: 0, finish_reason: 'stop' }], created: 1765000000, model: 'GigaChat', object: 'chat.completion', usage })}\n\n`);
      await send('data: [DONE]\n\n');
      return void res.end();
    }
    if (p.endsWith('/v1/responses')) {
      const usage = { input_tokens: 20, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 25 };
      const status = body.incomplete ? 'incomplete' : 'completed';
      const response = { id: 'resp_1', object: 'response', created_at: 1765000000, status, model: 'gpt-4.1', output: [], usage };
      if (!body.stream) return json(response);
      sse();
      let seq = 0;
      const ev = (type: string, data: Record<string, unknown>) => send(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
      await ev('response.created', { response: { ...response, status: 'in_progress', usage: null } });
      await ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' });
      await ev(`response.${status}`, { response });
      return void res.end();
    }
    if (p.endsWith('/v1/embeddings')) {
      return json({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } });
    }
    if (p.endsWith('/v1/images/generations')) {
      const img = { created: 1765000000, data: [{ b64_json: 'aGVsbG8=' }] };
      // A large image answer (over the 1 MB read limit): usage comes after the payload.
      if (body.model === 'gpt-image-1' && body.size === 'huge') return json({ created: 1765000000, data: [{ b64_json: 'QUFB'.repeat(400_000) }], usage: { input_tokens: 50, input_tokens_details: { text_tokens: 10, image_tokens: 40 }, output_tokens: 6240, total_tokens: 6290 } });
      if (body.model === 'gpt-image-1') return json({ ...img, usage: { input_tokens: 50, input_tokens_details: { text_tokens: 10, image_tokens: 40 }, output_tokens: 4160, total_tokens: 4210 } });
      return json(img);
    }
    if (p.includes(':generateContent')) {
      return json({ candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 9, thoughtsTokenCount: 3, totalTokenCount: 22 }, modelVersion: 'gemini-2.5-flash' });
    }
    if (p.includes(':streamGenerateContent')) {
      // usageMetadata is a running total on every chunk: last = (10, 9, thoughts 3, total 22).
      const chunks = [2, 5, 9].map((c, i) => ({
        candidates: [{ content: { role: 'model', parts: [{ text: `part${i}` }] }, ...(i === 2 ? { finishReason: 'STOP' } : {}) }],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: c, thoughtsTokenCount: 3, totalTokenCount: 13 + c },
        modelVersion: 'gemini-2.5-flash',
      }));
      if (url.searchParams.get('alt') === 'sse' && url.searchParams.has('image')) {
        // The last chunk carries a 1.6 MB inline image, then the final running total.
        sse();
        await send(`data: ${JSON.stringify(chunks[0])}\n\n`);
        const big = { candidates: [{ content: { role: 'model', parts: [{ inlineData: { mimeType: 'image/png', data: 'iVBO'.repeat(400_000) } }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1290, totalTokenCount: 1300, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 10 }] }, modelVersion: 'gemini-2.5-flash-image' };
        const text = Buffer.from(`data: ${JSON.stringify(big)}\n\n`);
        for (let i = 0; i < text.length; i += 64 * 1024) await send(text.subarray(i, i + 64 * 1024) as Buffer);
        return void res.end();
      }
      if (url.searchParams.get('alt') === 'sse') {
        sse();
        // CRLF line ends, and an event split across two writes.
        for (const c of chunks) {
          const text = `data: ${JSON.stringify(c)}\r\n\r\n`;
          const cut = Math.floor(text.length / 2);
          await send(text.slice(0, cut));
          await sleep(5);
          await send(text.slice(cut));
        }
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.write('[' + JSON.stringify(chunks[0]));
      for (const c of chunks.slice(1)) res.write(',\r\n' + JSON.stringify(c));
      return void res.end(']');
    }
    if (p.endsWith('/v1/messages')) {
      if (!body.stream) return json({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn', usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 6 } });
      sse();
      const ev = (type: string, data: Record<string, unknown>) => send(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      await ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4', stop_reason: null, usage: { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 5, output_tokens: 1 } } });
      await ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      await ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } });
      await ev('message_delta', { delta: { stop_reason: null }, usage: { output_tokens: 10 } });
      await ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 15 } });
      await ev('message_stop', {});
      return void res.end();
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `no fake for ${p}` } }));
  });
}

/** Reads a response fully as bytes. */
export async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

export type { FakeUpstream, ServerResponse };
