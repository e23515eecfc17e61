/**
 * Cache tests: a real relay in-process and a fake upstream on node:http that counts its calls and
 * lets each test decide the answer per request. The client is a plain node:http request, so a
 * test can also abort it mid-stream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingUpstream {
  url: string;
  calls: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** Calls to one path (query included). */
  count(path?: string): number;
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
  close(): Promise<void>;
}

export async function countingUpstream(handler?: CountingUpstream['handler']): Promise<CountingUpstream> {
  const up: CountingUpstream = {
    url: '',
    calls: [],
    count: (p) => (p === undefined ? up.calls.length : up.calls.filter((c) => c.url === p).length),
    handler:
      handler ??
      ((req, res, body) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ n: up.calls.length, url: req.url, body }));
      }),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      up.calls.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      up.handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  up.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return up;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function call(base: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'), headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Starts a request and resolves once the head arrived; the body keeps coming through `chunks`. */
export function open(base: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; text(): string; ended: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'), headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      const ended = new Promise<string>((r, rj) => {
        res.on('end', () => r(text));
        res.on('error', rj);
        res.on('aborted', () => rj(new Error('aborted')));
      });
      ended.catch(() => undefined);
      resolve({ res, req, text: () => text, ended });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(fn: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A route on /api with the given cache block (YAML, indented by 4). */
export function cachedRoute(upstream: string, cache: string, extra = ''): string {
  return `clients:
  web: tok-web
  mobile: tok-mobile
routes:
  - name: api
    prefix: /api
    upstream: ${upstream}
    auth: [web, mobile]
${extra}    cache:
${cache}
`;
}

export const WEB = { 'x-proxy-token': 'tok-web' };
export const MOBILE = { 'x-proxy-token': 'tok-mobile' };
