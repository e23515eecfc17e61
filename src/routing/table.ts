/** The compiled, immutable route table: what the hot path reads. Built once per config load. */
import type { AuthPolicy } from '../policy/auth.js';
import type { JwtClient } from '../policy/jwt.js';
import type { CorsPolicy } from '../policy/cors.js';
import type { RateLimiter } from '../policy/rate-limit.js';
import type { UpstreamPool } from '../upstream/dispatcher.js';
import type { LocationRewrite, RequestHeaderPlan } from '../upstream/headers.js';
import type { UpstreamErrorContext } from '../upstream/errors.js';
import type { CredentialSource } from '../upstream/credentials/types.js';
import type { RouteInfo, TransformPlanner } from '../transforms/types.js';
import type { Redactor } from '../log/redact.js';
import type { RelayConfig, RouteConfig } from '../config/schema.js';
import type { RouteBudgets } from '../budgets/route-budgets.js';
import type { BudgetService } from '../budgets/service.js';
import type { RouteCache } from '../cache/route-cache.js';

export interface CompiledRoute {
  name: string;
  /** Normalised prefix (no trailing slash; `/` for the root). */
  prefix: string;
  info: RouteInfo;
  config: RouteConfig;
  /** Variables the route needs that are not set: the route answers 503 route_disabled. */
  disabled: string[] | undefined;
  /** Why the route answers 503 route_disabled (unset variables, a TLS file not there); undefined when enabled. */
  disabledReason: string | undefined;
  origin: string;
  /** Upstream base path without trailing slash ('' for the root). */
  upstreamPath: string;
  stripPrefix: boolean;
  methods: ReadonlySet<string> | undefined;
  allowHeader: string;
  auth: AuthPolicy;
  cors: CorsPolicy | undefined;
  rateLimit: { limiter: RateLimiter; by: 'client' | 'ip' | 'user' } | undefined;
  headerPlan: RequestHeaderPlan;
  pool: UpstreamPool;
  /** Pool for the OAuth token endpoint (route TLS + egress). */
  tokenPool: UpstreamPool | undefined;
  egress: string;
  firstByteTimeout: number;
  idleTimeout: number;
  timeout: number;
  retries: number;
  /** SSE keep-alive interval (0 = off). */
  heartbeat: number;
  /** Key pool or OAuth token source; undefined when the route uses static headers only. */
  credentials: CredentialSource | undefined;
  forwardClientIp: boolean;
  forwardPrefix: boolean;
  transform: TransformPlanner | undefined;
  /**
   * Set on routes with png-to-jpeg: returns why their transforms cannot run (sharp failed to load
   * after the relay started, image-library.ts). While it does, the route answers 503
   * route_disabled and readyPath reports it failing.
   */
  transformProblem: (() => string | undefined) | undefined;
  /** Read token usage from responses (`usage: auto`). */
  usage: boolean;
  /** The route's budgets; undefined when it has none. */
  budgets: RouteBudgets | undefined;
  /** Response cache of the route (§13); undefined when the route does not cache. */
  cache: RouteCache | undefined;
  errorContext: UpstreamErrorContext;
  locationFor(base: string): LocationRewrite;
}

export interface RouteTable {
  config: RelayConfig;
  file: string;
  /** Longest first. */
  routes: CompiledRoute[];
  /** Base paths, normalised, longest first. */
  bases: string[];
  healthPath: string;
  readyPath: string;
  metricsPath: string | undefined;
  usagePath: string | undefined;
  /** Budget store and settings; undefined when no route has a budget and there is no usagePath. */
  budgets: BudgetService | undefined;
  redactor: Redactor;
  maxBodySize: number;
  sendTimeout: number;
  trustProxy: boolean;
  /** JWT clients by name (spec §11), one per issuer entry, shared by the routes listing them. */
  jwtClients: ReadonlyMap<string, JwtClient>;
  /** Release pools and limiters (called when a newer table replaced this one). */
  dispose(): Promise<void>;
}
