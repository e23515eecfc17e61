/** The per-exchange state shared by the request handler, the forwarder and the access log. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '../log/logger.js';
import type { OutHeaders } from '../upstream/headers.js';
import type { CompiledRoute, RouteTable } from '../routing/table.js';

/**
 * HTTP/2 compatibility objects (Http2ServerRequest/Response) are used through the HTTP/1 types:
 * the members the relay touches (headers, url, method, socket, setHeader, writeHead, write, end,
 * flushHeaders, 'close'/'drain'/'finish', destroy) behave the same; pseudo-headers are skipped.
 */
export type ClientRequest = IncomingMessage;
export type ClientResponse = ServerResponse;
export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

export interface Exchange {
  req: ClientRequest;
  res: ClientResponse;
  table: RouteTable;
  route: CompiledRoute | undefined;
  requestId: string;
  /** performance.now() at accept. */
  start: number;
  /** performance.now() when the upstream request was dispatched / its headers arrived. */
  upstreamStart: number;
  upstreamHeadersAt: number;
  method: string;
  /** Path as the client sent it (query redacted when logged). */
  path: string;
  query: string;
  /** Base path the client used ('' for the root). */
  base: string;
  /** The path after the base path (what routes match against). */
  routePath: string;
  ip: string;
  client: string | undefined;
  /** Headers the relay adds to every response of this exchange (CORS, rate limit, Vary…). */
  relayHeaders: OutHeaders;
  bytesIn: number;
  bytesOut: number;
  status: number;
  /** Why an exchange ended abnormally (for the access log). */
  outcome: string | undefined;
  log: Logger;
  /** §5 type of the error the relay itself answered with (set by sendError); read by the dashboard. */
  errorType?: string;
  /** The end user a verified JWT names (§11); undefined for token clients and open routes. */
  user?: string;
  /** Tokens the exchange spent (§12), when the route meters usage. */
  usage?: { input: number; output: number; total: number; estimated?: boolean };
  /** What the response cache did with this exchange (§13), when the route caches. */
  cache?: 'hit' | 'miss' | 'bypass' | 'refresh';
}
