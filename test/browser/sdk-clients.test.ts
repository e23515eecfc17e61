/**
 * The SDK snippets of docs/readme/browser.*.md, run against a real relay (in Node: the SDKs send
 * the same headers there). Proves the relay token goes in, is replaced by the server-side key,
 * and never reaches the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';

const env = { PROXY_TOKEN: 'relay-token-5f2a91', OPENAI_API_KEY: 'sk-real-openai-key-1', GEMINI_API_KEY: 'AIza-real-gemini-key-1' };

describe('SDKs pointed at the relay, as the README shows', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.includes('chat/completions')) {
        res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hi from openai' } }] }));
      } else {
        res.end(JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'hi from gemini' }] } }] }));
      }
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
    rateLimit: { requests: 30, per: 1m, by: ip }
    headers:
      set:
        Authorization: Bearer \${OPENAI_API_KEY}
  - name: gemini
    prefix: /gemini
    upstream: ${up.url}
    auth: [web]
    headers:
      set:
        x-goog-api-key: \${GEMINI_API_KEY}
`,
      { env },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('openai: apiKey = relay token, baseURL = relay', async () => {
    const openai = new OpenAI({ baseURL: `${relay.url}/openai/v1`, apiKey: env.PROXY_TOKEN, maxRetries: 0 });
    const out = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hello' }] });
    expect(out.choices[0]!.message.content).toBe('hi from openai');
    const seen = up.requests.at(-1)!;
    expect(seen.url).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe(`Bearer ${env.OPENAI_API_KEY}`);
    expect(JSON.stringify(seen.headers)).not.toContain(env.PROXY_TOKEN);
  });

  it('@google/genai: placeholder apiKey, X-Proxy-Token in httpOptions.headers, baseUrl = relay', async () => {
    const ai = new GoogleGenAI({
      apiKey: 'set-by-relay',
      httpOptions: { baseUrl: `${relay.url}/gemini`, headers: { 'X-Proxy-Token': env.PROXY_TOKEN } },
    });
    const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hello' });
    expect(res.text).toBe('hi from gemini');
    const seen = up.requests.at(-1)!;
    expect(seen.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(seen.headers['x-goog-api-key']).toBe(env.GEMINI_API_KEY);
    expect(JSON.stringify(seen.headers)).not.toContain(env.PROXY_TOKEN);
  });
});
