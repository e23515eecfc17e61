/**
 * The official `openai` SDK pointed at the relay with `baseURL` (the README recipe), against a
 * fake OpenAI upstream (reliability.md B.4 shapes). The SDK's apiKey is the relay client token
 * (sent as Authorization: Bearer); the route swaps it for the real key.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { gate, sleep, sseEvent } from '../helpers/sse.js';

const TOKEN = 'relay-client-token-sdk';
const KEY = 'sk-real-openai-key-sdk';

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1694268190,
    model: 'gpt-4o-mini',
    system_fingerprint: 'fp_1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });

describe('openai SDK through the relay', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  let firstSeen = gate();
  const marks: { lastWritten?: number } = {};

  beforeAll(async () => {
    up = await startUpstream(async (req, res, rec) => {
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
      }
      const body = JSON.parse(rec.body.toString()) as { stream?: boolean; messages: { content: string }[] };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_up_1', 'openai-processing-ms': '12' });
        return void res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1694268190,
            model: 'gpt-4o-mini',
            choices: [{ index: 0, message: { role: 'assistant', content: `echo: ${body.messages[0]!.content}` }, logprobs: null, finish_reason: 'stop' }],
            usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
          }),
        );
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      res.write(sseEvent(chunk({ role: 'assistant', content: '' })));
      res.write(sseEvent(chunk({ content: 'Hel' })));
      await Promise.race([firstSeen.wait, sleep(5000)]); // held until the SDK yielded a chunk
      for (const part of ['lo', ', ', 'world']) {
        await sleep(10);
        res.write(sseEvent(chunk({ content: part })));
      }
      res.write(sseEvent(chunk({}, 'stop')));
      res.write(sseEvent('[DONE]'));
      marks.lastWritten = performance.now();
      res.end();
    });
    relay = await startTestRelay(
      `
clients:
  web: \${PROXY_TOKEN}
routes:
  - name: openai
    prefix: /openai
    upstream: ${up.url}
    auth: [web]
    headers:
      set:
        Authorization: Bearer \${OPENAI_API_KEY}
`,
      { env: { PROXY_TOKEN: TOKEN, OPENAI_API_KEY: KEY } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const client = (apiKey = TOKEN) => new OpenAI({ baseURL: `${relay.url}/openai/v1`, apiKey, maxRetries: 0, timeout: 10_000 });

  it('chat completion', async () => {
    const c = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(c.choices[0]!.message.content).toBe('echo: hi');
    expect(c.usage?.total_tokens).toBe(11);
    const rec = up.requests.at(-1)!;
    expect(rec.url).toBe('/v1/chat/completions');
    expect(rec.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(JSON.stringify(rec.rawHeaders)).not.toContain(TOKEN);
  });

  it('stream: true yields chunks incrementally (the first before the upstream wrote the last)', async () => {
    firstSeen = gate();
    marks.lastWritten = undefined;
    const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    let firstAt = 0;
    let chunks = 0;
    for await (const ch of stream) {
      chunks++;
      const d = ch.choices[0]?.delta?.content ?? '';
      text += d;
      if (d && !firstAt) {
        firstAt = performance.now();
        expect(marks.lastWritten).toBeUndefined(); // the upstream had not finished yet
        firstSeen.open();
      }
    }
    expect(text).toBe('Hello, world');
    expect(chunks).toBe(6);
    expect(marks.lastWritten).toBeGreaterThan(firstAt);
  });

  it('a wrong relay token surfaces as the SDK\'s AuthenticationError (401 from the relay, upstream not called)', async () => {
    const n = up.requests.length;
    const err = await client('not-the-token').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect(up.requests.length).toBe(n);
  });
});
