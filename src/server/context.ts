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
  /** The signed-in user behind a JWT client (§11); undefined for shared tokens and open routes. */
  user: string | undefined;
  /** What the response cache did with this exchange (§13); undefined off cached paths. */
  cache: 'hit' | 'miss' | 'bypass' | 'refresh' | undefined;
  /** Headers the relay adds to every response of this exchange (CORS, rate limit, Vary…). */
  relayHeaders: OutHeaders;
  bytesIn: number;
  bytesOut: number;
  status: number;
  /** Why an exchange ended abnormally (for the access log). */
  outcome: string | undefined;
  log: Logger;
}
