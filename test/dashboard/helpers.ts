/** Shared by the dashboard tests: a config, a login, and a raw SSE reader of `<path>/events`. */
import http from 'node:http';
import { expect } from 'vitest';
import { APP_CSS, APP_JS, LOGIN_HTML } from '../../src/dashboard/assets.generated.js';

export const ADMIN = 'admin-token-5b1f0e9c2d7a';
export const CLIENT = 'client-token-9e8d7c6b5a';

export function dashboardYaml(upstream: string, extra = ''): string {
  return `
server:
  dashboard:
    path: /_relay
    token: \${ADMIN}
${extra}
clients:
  web: \${CLIENT}
routes:
  - name: api
    prefix: /
    upstream: ${upstream}
    auth: [web]
`;
}

export const env = { ADMIN, CLIENT };

/** Logs in with JSON; returns the `name=value` cookie pair. */
export async function login(base: string, mount = '/_relay'): Promise<string> {
  const r = await fetch(`${base}${mount}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN }) });
  if (r.status !== 200) throw new Error(`login answered ${r.status}`);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

export interface SseEvent {
  event: string;
  data: string;
  at: number;
}

export interface SseReader {
  events: SseEvent[];
  comments: string[];
  status: number;
  headers: http.IncomingHttpHeaders;
  ended: Promise<void>;
  close(): void;
}

/** A raw SSE reader (node:http, so the test sees every byte and when the stream ends). */
export function openEvents(url: string, cookie: string): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      let buf = '';
      let endResolve!: () => void;
      const ended = new Promise<void>((r) => (endResolve = r));
      const reader: SseReader = { events: [], comments: [], status: res.statusCode ?? 0, headers: res.headers, ended, close: () => req.destroy() };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) reader.comments.push(line);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) reader.events.push({ event, data: data.join('\n'), at: Date.now() });
        }
      });
      res.on('end', endResolve);
      res.on('close', endResolve);
      resolve(reader);
    });
    req.on('error', reject);
  });
}

/** The page's script, style sheet and login page, as a built relay serves them at `base` (the mount URL). */
export async function expectShippedAssets(base: string, mount = '/_relay'): Promise<void> {
  for (const [p, want] of [['/app.js', APP_JS], ['/app.css', APP_CSS]] as const) {
    const got = Buffer.from(await (await fetch(base + p)).arrayBuffer());
    expect(got.equals(Buffer.from(want)), p).toBe(true);
  }
  expect(await (await fetch(base)).text()).toBe(LOGIN_HTML.replaceAll('%MOUNT%', mount));
}
