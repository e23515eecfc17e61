/**
 * Test helpers for operations tests: an SSE upstream that tells each event which key it was
 * called with, connection counting on the upstream side, a chunk reader with deadlines, and a
 * strict parser of the Prometheus text exposition format (so "parses as Prometheus" is checked,
 * not assumed).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { sleep, waitFor as baseWaitFor } from '../helpers/sse.js';

export interface SseUpstream {
  url: string;
  /** Authorization header of every request, in arrival order. */
  auths: (string | undefined)[];
  /** TCP connections accepted so far / open now. */
  connections(): number;
  open(): number;
  /** Streams the upstream is still writing. */
  streaming(): number;
  close(): Promise<void>;
}

/**
 * GET /stream?n=N&every=MS → N SSE events, one every MS ms; each event's data is
 * {"i":k,"auth":"<Authorization the upstream received>"}. Any other path → small JSON.
 */
export async function startSseUpstream(): Promise<SseUpstream> {
  const auths: (string | undefined)[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  let streaming = 0;
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    auths.push(auth);
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname.endsWith('/stream')) {
      const n = Number(u.searchParams.get('n') ?? 10);
      const every = Number(u.searchParams.get('every') ?? 50);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      streaming++;
      let i = 0;
      const timer = setInterval(() => {
        res.write(`data: ${JSON.stringify({ i, auth })}\n\n`);
        if (++i >= n) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
        }
      }, every);
      res.on('close', () => {
        clearInterval(timer);
        streaming--;
      });
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, auth }));
    });
  });
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    auths,
    connections: () => accepted,
    open: () => sockets.size,
    streaming: () => streaming,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Reads a fetch body chunk by chunk; `until` waits (bounded) for the text so far to match. */
export function bodyReader(res: Response) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  let done = false;
  let error: unknown;
  const pump = (async () => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        text += dec.decode(r.value, { stream: true });
      }
    } catch (err) {
      error = err;
    } finally {
      done = true;
    }
  })();
  return {
    text: () => text,
    done: () => done,
    error: () => error,
    /** Resolves once the body ended (or failed); rejects after `ms`. */
    async end(ms = 5000): Promise<{ text: string; error: unknown }> {
      await withTimeout(pump, ms, 'body did not end');
      return { text, error };
    },
    async until(pred: (t: string) => boolean, ms = 5000): Promise<string> {
      const end = Date.now() + ms;
      while (!pred(text)) {
        if (done) throw new Error(`body ended before the expected text arrived: ${text.slice(-300)}`);
        if (Date.now() > end) throw new Error(`timed out waiting for body text; got: ${text.slice(-300)}`);
        await sleep(10);
      }
      return text;
    },
  };
}

export function events(text: string): unknown[] {
  return text
    .split('\n\n')
    .map((b) => b.replace(/^data: /, '').trim())
    .filter((d) => d && d !== '[DONE]')
    .map((d) => JSON.parse(d) as unknown);
}

/** The shared poller with the 5 s default these ops tests use. */
export function waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  return baseWaitFor(pred, ms, what);
}

export { sleep };

/**
 * The route these tests reload and drain: `/ai` behind the `web` client token (`${WEB}`), with the
 * upstream key in `headers.set`. `serverExtra` adds lines under `server:`; `extra` appends YAML.
 */
export function aiRouteConfig(upstream: string, key: string, opts: { serverExtra?: string; extra?: string } = {}): string {
  return `server:
  metricsPath: /metrics
${opts.serverExtra ?? ''}clients:
  web: \${WEB}
routes:
  - name: ai
    prefix: /ai
    upstream: ${upstream}
    auth: [web]
    headers:
      set:
        Authorization: Bearer ${key}
${opts.extra ?? ''}`;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms}ms`)), ms);
    }),
  ]);
}

// ---------- Prometheus text exposition format 0.0.4 ----------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
  /** Value of the sample with exactly these labels (undefined when absent). */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Sum over every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?[ \t]+(\S+)([ \t]+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parses exposition text; throws on any line that is not valid Prometheus text format. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const [n, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const fail = (why: string) => new Error(`line ${n + 1}: ${why}: ${line}`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // other comments are allowed
      if (!NAME.test(m[2]!)) throw fail('bad metric name');
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3]!)) throw fail('bad type');
        if (types.has(m[2]!)) throw fail('second TYPE for a family');
        types.set(m[2]!, m[3]!);
      } else help.set(m[2]!, m[3]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw fail('not a sample line');
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest) {
      const lm = LABEL.exec(rest);
      if (!lm) throw fail('bad label set');
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(lm[0].length);
    }
    const raw = m[4]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw fail('bad value');
    const family = familyOf(m[1]!, types);
    if (!family) throw fail('sample without a TYPE line before it');
    const key = m[1]! + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw fail('duplicate sample');
    seen.add(key);
    samples.push({ name: m[1]!, labels, value });
  }
  const matches = (s: Sample, name: string, labels: Record<string, string>) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    types,
    help,
    samples,
    value(name, labels = {}) {
      const want = Object.keys(labels).length;
      return samples.find((s) => matches(s, name, labels) && Object.keys(s.labels).length === want)?.value;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => matches(s, name, labels)).reduce((a, s) => a + s.value, 0);
    },
  };
}

function familyOf(sample: string, types: Map<string, string>): string | undefined {
  if (types.has(sample)) return sample;
  for (const suffix of ['_bucket', '_sum', '_count', '_total']) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || t === 'summary' || (suffix === '_total' && t === 'counter')) return base;
    }
  }
  return undefined;
}
