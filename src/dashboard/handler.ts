/**
 * The dashboard's endpoints under `<base><path>`: the page (login form or dashboard), its two
 * assets, `POST login`, `POST logout`, `GET events` (SSE) and `GET api/snapshot`. Dashboard
 * requests never become relay exchanges: no access log line, no metrics, no rate limit or budget.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RelayError } from '../errors.js';
import type { AnyRequest, AnyResponse, ClientResponse } from '../server/context.js';
import { requestIdFor } from '../server/request-id.js';
import { APP_CSS, APP_HTML, APP_JS, LOGIN_HTML } from './assets.generated.js';
import type { EventsHub } from './events.js';
import { send, sendDashError, SECURITY_HEADERS } from './http.js';
import { foreignOrigin } from './origin.js';
import { tokenTag, type Sessions } from './sessions.js';
import type { DashboardView } from './view.js';

export const COOKIE = 'ai_relay_dashboard';
const MAX_LOGIN_BODY = 4096;

export interface HandlerDeps {
  /** The admin token now (a reload may change it). */
  token(): string;
  sessions: Sessions;
  hub: EventsHub;
  snapshot(): DashboardView;
  sessionIdleMs(): number;
}

export type DashboardHandler = (req: AnyRequest, res: AnyResponse, mount: string, sub: string) => void;

export function createDashboardHandler(deps: HandlerDeps): DashboardHandler {
  return (rawReq, rawRes, mount, sub) => {
    const req = rawReq as IncomingMessage;
    const res = rawRes as ClientResponse;
    const id = requestIdFor(req.headers['x-request-id']);
    try {
      const host = (req.headers.host ?? req.headers[':authority']) as string | undefined;
      if (foreignOrigin(req.headers.origin, host)) {
        return sendDashError(res, new RelayError('forbidden', 'the dashboard answers only its own origin'), id);
      }
      const method = req.method ?? 'GET';
      const get = method === 'GET' || method === 'HEAD';
      const head = method === 'HEAD';
      const session = deps.sessions.check(cookieValue(req.headers.cookie), tokenTag(deps.token()));
      const secure = Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted);
      switch (sub) {
        case '':
        case '/':
          if (!get) return notAllowed(res, id, 'GET, HEAD');
          return sendPage(res, session ? APP_HTML : LOGIN_HTML, mount, head);
        case '/app.js':
          if (!get) return notAllowed(res, id, 'GET, HEAD');
          return send(res, 200, { 'content-type': 'text/javascript; charset=utf-8' }, APP_JS, head);
        case '/app.css':
          if (!get) return notAllowed(res, id, 'GET, HEAD');
          return send(res, 200, { 'content-type': 'text/css; charset=utf-8' }, APP_CSS, head);
        case '/login':
          if (method !== 'POST') return notAllowed(res, id, 'POST');
          return login(req, res, id, mount, secure, deps);
        case '/logout': {
          if (method !== 'POST') return notAllowed(res, id, 'POST');
          if (session) {
            deps.sessions.end(session);
            deps.hub.dropSession(session);
          }
          const clear = `${COOKIE}=; Path=${mount}; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
          if (isJson(req)) return send(res, 200, { 'content-type': 'application/json; charset=utf-8', 'set-cookie': clear }, '{"ok":true}');
          return send(res, 303, { location: mount, 'set-cookie': clear }, '');
        }
        case '/events':
          // GET only: a HEAD would hold a stream open that can never carry anything.
          if (method !== 'GET') return notAllowed(res, id, 'GET');
          if (!session) return unauthorized(res, id);
          if (deps.hub.full()) return sendDashError(res, new RelayError('overloaded', 'too many open dashboard streams', { headers: { 'retry-after': '5' } }), id);
          return deps.hub.open(res, session, { ...SECURITY_HEADERS, 'x-request-id': id });
        case '/api/session':
          // Lets the page tell "session over" (show the login form) from "relay unreachable"
          // (retry) with a 200, so the browser console stays free of failed-request errors.
          if (!get) return notAllowed(res, id, 'GET, HEAD');
          return send(res, 200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': id }, JSON.stringify({ session: Boolean(session) }), head);
        case '/api/snapshot':
          if (!get) return notAllowed(res, id, 'GET, HEAD');
          if (!session) return unauthorized(res, id);
          return send(res, 200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': id }, JSON.stringify(deps.snapshot()), head);
        default:
          return sendDashError(res, new RelayError('no_route', 'no such dashboard page'), id);
      }
    } catch (err) {
      // Never crash on input: one bad request costs one answer.
      if (!res.headersSent) sendDashError(res, new RelayError('internal_error', 'internal relay error'), id);
      else res.destroy(err as Error);
    }
  };
}

function sendPage(res: ClientResponse, html: string, mount: string, head: boolean, status = 200): void {
  // The mount is a validated config path plus a base path (letters, digits, `._~-/`): safe in an attribute.
  send(res, status, { 'content-type': 'text/html; charset=utf-8' }, html.replaceAll('%MOUNT%', mount), head);
}

function login(req: IncomingMessage, res: ClientResponse, id: string, mount: string, secure: boolean, deps: HandlerDeps): void {
  const json = isJson(req);
  readBody(req, MAX_LOGIN_BODY, (body) => {
    try {
      answerLogin(req, res, id, mount, secure, deps, json, body);
    } catch {
      // Runs outside the handler's try (a stream callback): never let input crash the process.
      if (!res.headersSent) sendDashError(res, new RelayError('internal_error', 'internal relay error'), id);
      else res.destroy();
    }
  });
}

function answerLogin(req: IncomingMessage, res: ClientResponse, id: string, mount: string, secure: boolean, deps: HandlerDeps, json: boolean, body: Buffer | undefined): void {
  // HTTP/2 forbids connection-specific headers; there the stream simply ends.
  if (body === undefined) return sendDashError(res, new RelayError('body_too_large', `login body over ${MAX_LOGIN_BODY} bytes`), id, req.httpVersionMajor === 1 ? { connection: 'close' } : {});
  const given = tokenFrom(body, json);
  if (given === undefined || !sameSecret(given, deps.token())) {
    if (json) return unauthorized(res, id, 'wrong dashboard token');
    return sendPage(res, LOGIN_HTML.replace('class="error" hidden', 'class="error"'), mount, false, 401);
  }
  const { id: sid } = deps.sessions.create(tokenTag(deps.token()));
  const maxAge = Math.floor(deps.sessionIdleMs() / 1000);
  const cookie = `${COOKIE}=${sid}; Path=${mount}; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
  if (json) return send(res, 200, { 'content-type': 'application/json; charset=utf-8', 'set-cookie': cookie }, '{"ok":true}');
  // 303: the browser follows with a GET, so a reload does not re-post the token.
  send(res, 303, { location: mount, 'set-cookie': cookie }, '');
}

function tokenFrom(body: Buffer, json: boolean): string | undefined {
  const text = body.toString('utf8');
  if (json) {
    try {
      const doc = JSON.parse(text) as unknown;
      const t = doc && typeof doc === 'object' ? (doc as { token?: unknown }).token : undefined;
      return typeof t === 'string' ? t : undefined;
    } catch {
      return undefined;
    }
  }
  return new URLSearchParams(text).get('token') ?? undefined;
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function isJson(req: IncomingMessage): boolean {
  const ct = req.headers['content-type'];
  return typeof ct === 'string' && ct.toLowerCase().includes('json');
}

function cookieValue(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function readBody(req: IncomingMessage, max: number, cb: (body: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  const finish = (b: Buffer | undefined) => {
    if (done) return;
    done = true;
    cb(b);
  };
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > max) {
      req.pause();
      return finish(undefined);
    }
    chunks.push(c);
  });
  req.once('end', () => finish(Buffer.concat(chunks)));
  req.once('error', () => finish(undefined));
}

function notAllowed(res: ClientResponse, id: string, allow: string): void {
  sendDashError(res, new RelayError('method_not_allowed', `use ${allow} here`, { headers: { allow } }), id);
}

function unauthorized(res: ClientResponse, id: string, message = 'log in to the dashboard first'): void {
  sendDashError(res, new RelayError('unauthorized', message), id);
}
