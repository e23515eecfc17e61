/** The per-exchange state shared by the request handler, the forwarder and the access log. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '../log/logger.js';
import type { OutHeaders } from '../upstream/headers.js';
import type { CompiledRoute, RouteTable } from '../routing/table.js';
import type { Usage } from '../usage/usage.js';
import type { BudgetTicket } from '../budgets/route-budgets.js';

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
  /**
   * The verified user of a JWT client (spec §11): the raw value of the client's user claim. A user
   * is identified by `client` and `user` together (two issuers may have the same `sub`), so
   * consumers (rate limits, budgets, cache scope) always combine the two.
   */
  user: string | undefined;
  /**
   * Token usage read from the response; `estimated` when a budget hold was charged instead;
   * `none` when the whole answer was read and reports no usage (nothing to charge, not logged).
   */
  usage: Usage | 'estimated' | 'none' | undefined;
  /** Refused by a budget (metrics tell these 429/503s from rate limiting). */
  budgetRefusal?: 'budget_exceeded' | 'budget_unavailable';
  /** The budget hold of this exchange, settled when it ends. */
  budget: BudgetTicket | undefined;
  /** What the response cache did with this exchange (§13); undefined off cached paths. */
  cache: 'hit' | 'miss' | 'bypass' | 'refresh' | undefined;
  /** Headers the relay adds to every response of this exchange (CORS, rate limit, Vary…). */
  relayHeaders: OutHeaders;
  bytesIn: number;
  bytesOut: number;
  /** The exchange is over (access line written); set once by the server layer. */
  ended: boolean;
  status: number;
  /** Why an exchange ended abnormally (for the access log). */
  outcome: string | undefined;
  log: Logger;
  /** §5 type of the error the relay itself answered with (set by sendError); read by the dashboard. */
  errorType?: string;
}
