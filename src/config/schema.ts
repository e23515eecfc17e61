/**
 * The configuration schema: the single source of truth for types, defaults, validation and the
 * reference docs (`docs/config.md` is generated from the `.describe()` texts by
 * scripts/gen-config-docs.ts). Zod gives us strict objects (unknown keys are errors), precise
 * issue paths (mapped back to YAML line:col in load.ts) and inferred TypeScript types.
 */
import { z } from 'zod';
import { parseCount, parseDuration, parseSize } from './units.js';

// ---------- scalar helpers: YAML and ${VAR} interpolation both yield strings ----------

const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use e.g. 500ms, 30s, 10m, 2h)` });
      return z.NEVER;
    }
    return ms;
  });

/** A duration that may also be `none` (no limit, returned as 0). */
const durationOrNone = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (v === 'none' || v === 0 || v === '0') return 0;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use none, or e.g. 30s, 10m)` });
      return z.NEVER;
    }
    return ms;
  });

const size = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(v)} (use e.g. 512kb, 32mb)` });
      return z.NEVER;
    }
    return n;
  });

/** A token or request count: 4096, 200k, 20M (decimal units). */
const count = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = parseCount(v);
    if (n === undefined || n < 1) {
      ctx.addIssue({ code: 'custom', message: `invalid count ${JSON.stringify(v)} (use e.g. 4096, 200k, 20M)` });
      return z.NEVER;
    }
    return n;
  });

/** A budget window: a calendar period in `budgets.timezone`, or a fixed duration aligned to the epoch (ms). */
const budgetWindow = () =>
  z.union([z.string(), z.number()]).transform((v, ctx): 'day' | 'week' | 'month' | number => {
    if (v === 'day' || v === 'week' || v === 'month') return v;
    const ms = parseDuration(v);
    if (ms === undefined || ms < 1000) {
      ctx.addIssue({ code: 'custom', message: `invalid budget window ${JSON.stringify(v)} (use day, week, month or a duration of at least 1s such as 1h, 6h)` });
      return z.NEVER;
    }
    return ms;
  });

const bool = () =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const int = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
    z.number().int().min(min).max(max),
  );

const urlPath = () =>
  z
    .string()
    .regex(/^\/[^?#\s]*$/, 'must be a path starting with "/" (no query, no spaces)');

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const headerName = () => z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name');
/** Header values are refused at load time when they carry CR/LF/NUL (header injection). */
const headerValue = () => z.string().regex(/^[^\r\n\0]*$/, 'header value must not contain CR, LF or NUL');

const upstreamUrl = () =>
  z.string().refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL without query, fragment or credentials');

// ---------- JWT clients (spec §11) ----------

/**
 * JWS algorithms a JWT client may list. `none` is absent on purpose (and refused with its own
 * message): an unsigned token proves nothing.
 */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const jwtAlgorithm = () =>
  z.string().transform((v, ctx) => {
    if (v.trim().toLowerCase() === 'none') {
      ctx.addIssue({ code: 'custom', message: 'algorithm `none` is never accepted (an unsigned token proves nothing)' });
      return z.NEVER;
    }
    if (!(JWT_ALGORITHMS as readonly string[]).includes(v)) {
      ctx.addIssue({ code: 'custom', message: `unsupported algorithm ${JSON.stringify(v)} (use ${JWT_ALGORITHMS.join(', ')})` });
      return z.NEVER;
    }
    return v as JwtAlgorithm;
  });

export const jwtClientSchema = z
  .strictObject({
    issuer: z.string().describe('The exact `iss` the tokens carry (Auth0 issuers end with `/`).'),
    jwks: z.string().optional().describe('URL of the issuer\'s JSON Web Key Set. Must be https://, except on loopback (127.0.0.1, ::1, localhost). Fetched through the top-level `egress` with the system CAs, cached, refetched for an unknown `kid` at most once per `cooldown`. Exactly one of `jwks`, `secret`, `publicKey`.'),
    secret: z.string().optional().describe('Shared HMAC secret (HS256/HS384/HS512 only), e.g. Supabase\'s legacy JWT secret. Treated as a secret (redacted everywhere).'),
    publicKey: z.string().optional().describe('PEM file with the issuer\'s public key (SPKI or certificate), relative to the config file.'),
    algorithms: z.array(jwtAlgorithm()).min(1).describe('The algorithms accepted from this issuer (e.g. [RS256] or [ES256, RS256]). `none` is never accepted; HMAC algorithms only with `secret`, and only HMAC with `secret`.'),
    audience: z
      .union([z.string(), z.array(z.string()).min(1)])
      .describe('The `aud` value(s) accepted. `none` skips the audience check; then list `authorizedParties` (`check` warns otherwise).'),
    authorizedParties: z.array(z.string().min(1)).optional().describe('When set, a token must carry an `azp` from this list (Clerk puts the site origin there).'),
    user: z.string().min(1).default('sub').describe('The claim that names the user (required in every token). The relay identifies a user by client name and this value together.'),
    clockTolerance: duration().prefault('30s').describe('Leeway for `exp`, `nbf` and `iat` against clock skew.'),
    claims: z
      .record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('Claims that must be present and equal these values, e.g. `{ email_verified: true }`.'),
    cooldown: duration().prefault('30s').describe('`jwks` only: the least time between two fetches of the key set, both for an unknown `kid` and for retrying after a failed fetch.'),
  })
  .describe('A JWT issuer: every signed-in user of a site whose tokens it signs (spec §11).');

export const clientSchema = z
  .union([z.string(), z.strictObject({ jwt: jwtClientSchema })])
  .describe('A client: a shared relay token (a string), or `{ jwt: {…} }` for the users of a JWT issuer.');

// ---------- sections ----------

export const egressSchema = z
  .strictObject({
    proxy: z
      .string()
      .default('env')
      .describe(
        'How upstream traffic leaves: `env` (HTTPS_PROXY/HTTP_PROXY/NO_PROXY, as curl reads them), `none` (direct), or a proxy URL: http://user:pass@host:port, https://…, socks5://…, socks5h://… (DNS at the proxy).',
      ),
  })
  .describe('Egress (outgoing proxy) settings.');

export const upstreamTlsSchema = z
  .strictObject({
    ca: z.string().optional().describe('PEM file with extra CA certificates for the upstream, added to Node\'s default roots (never replacing them). Relative to the config file. While a named TLS file does not exist the route is disabled (503 route_disabled naming it); with --strict that is a startup error.'),
    insecure: bool().default(false).describe('Skip upstream certificate verification. Loudly warned about; never use in production.'),
    cert: z.string().optional().describe('Client certificate (PEM) for mutual TLS with the upstream.'),
    key: z.string().optional().describe('Client private key (PEM) for mutual TLS with the upstream.'),
    servername: z.string().optional().describe('SNI server name to send instead of the upstream host.'),
  })
  .describe('TLS settings for connections to the upstream (and its OAuth token endpoint).');

export const corsSchema = z
  .strictObject({
    origins: z
      .array(z.string().min(1))
      .min(1)
      .describe('Allowed origins: exact (`https://app.example`), wildcard subdomains (`https://*.example.com`) or `*`. `null` only when listed literally.'),
    credentials: bool().default(false).describe('Send `Access-Control-Allow-Credentials: true`. Not allowed with `*`.'),
    maxAge: duration().prefault('10m').describe('How long browsers may cache a preflight answer.'),
    allowHeaders: z.array(headerName()).optional().describe('Headers allowed in preflights. Default: echo what the browser asks for.'),
    exposeHeaders: z.array(headerName()).optional().describe('Extra response headers exposed to scripts, beyond X-Request-Id, Server-Timing and RateLimit-*.'),
  })
  .describe('CORS policy of the route. Omit to send no CORS headers (and refuse requests carrying an Origin header).');

export const rateLimitSchema = z
  .strictObject({
    requests: int(1, 1e9).describe('Bucket size: requests allowed per `per`.'),
    per: duration().refine((ms) => ms > 0, 'must be longer than 0').describe('Refill period for the whole bucket.'),
    by: z
      .enum(['client', 'ip', 'user'])
      .default('client')
      .describe('Key the bucket by relay client name (falls back to IP on open routes), by client IP, or by `user`: the verified user of a JWT client, keyed by client name and user together (falls back to the IP when the request has no user: shared tokens, open routes).'),
    store: z
      .string()
      .regex(/^(memory|rediss?:\/\/.+)$/, 'must be `memory` or a redis://host:port URL')
      .default('memory')
      .describe('`memory` (per process) or `redis://host:6379` to share buckets between relays.'),
    onStoreError: z
      .enum(['open', 'closed'])
      .default('open')
      .describe('When the Redis store is unreachable: `open` lets requests through (logged once per outage), `closed` answers 429.'),
  })
  .describe('Token-bucket rate limit.');

export const headersSchema = z
  .strictObject({
    set: z.record(headerName(), headerValue()).default({}).describe('Headers set on every upstream request (values may use ${VAR}; they are treated as secrets).'),
    remove: z.array(headerName()).default([]).describe('Client headers removed before forwarding.'),
  })
  .describe('Upstream request header rewrite.');

export const keysSchema = z
  .strictObject({
    header: headerName().default('Authorization').describe('Header that carries the key.'),
    format: headerValue().default('Bearer {key}').describe('Header value template; `{key}` is replaced by the key.'),
    values: z.array(headerValue().min(1)).min(1).describe('The keys. Round robin; a key answered 401/403/429 rests for `cooldown`.'),
    cooldown: duration().prefault('60s').describe('How long a key rests after 401/403/429 (or the upstream\'s Retry-After).'),
    replayBodySize: size().prefault('1mb').describe('Largest request body kept to replay the request on the next key.'),
  })
  .describe('Key pool: rotate several upstream keys.');

export const oauthSchema = z
  .strictObject({
    type: z.enum(['gigachat', 'client-credentials']).describe('Token protocol: `gigachat` (Sber NGW OAuth) or `client-credentials` (RFC 6749 §4.4).'),
    tokenUrl: upstreamUrl().describe('Token endpoint URL.'),
    authorizationKey: z.string().optional().describe('gigachat: the base64 "Authorization key" from the GigaChat console (sent as Basic).'),
    scope: z.string().optional().describe('Scope (gigachat: GIGACHAT_API_PERS, GIGACHAT_API_B2B or GIGACHAT_API_CORP).'),
    clientId: z.string().optional().describe('client-credentials: client id.'),
    clientSecret: z.string().optional().describe('client-credentials: client secret.'),
    clientAuth: z.enum(['basic', 'body']).default('basic').describe('client-credentials: send the client credentials as HTTP Basic or in the form body.'),
    audience: z.string().optional().describe('client-credentials: optional `audience` parameter.'),
    refreshBefore: duration().prefault('60s').describe('Refresh the token this long before it expires.'),
    header: headerName().default('Authorization').describe('Header the token is injected into, as `Bearer <token>`.'),
  })
  .describe('The relay fetches, caches and injects an OAuth bearer token for the upstream.');

export const pngToJpegSchema = z
  .strictObject({
    quality: int(1, 100).default(95).describe('JPEG quality.'),
    background: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #ffffff').default('#ffffff').describe('Colour that transparent pixels are flattened onto.'),
    mozjpeg: bool().default(false).describe('Use mozjpeg settings (smaller files, several times more CPU).'),
    optimizeCoding: bool().default(true).describe('Huffman-optimised JPEG: ~3–4 % smaller for ~8 ms more CPU per 1024² image (Pillow does not optimise).'),
    maxPixels: int(1, 1e10).default(100_000_000).describe('Images with more pixels than this are left untouched (image-bomb guard).'),
    fields: z.array(z.string().min(1)).optional().describe('JSON paths where images are looked for (e.g. `result.files[]`, `data[].b64_json`). Default: files, b64_json, inlineData.data, data: URLs anywhere.'),
  })
  .describe('Convert PNG images to JPEG in binary, JSON and SSE responses.');

export const moduleTransformSchema = z
  .strictObject({
    module: z.string().min(1).describe('Path of an ES module (relative to the config file) whose default export is a transform.'),
    options: z.record(z.string(), z.unknown()).default({}).describe('Passed to the module as `ctx.options`.'),
    timeout: duration().prefault('30s').describe('A transform that takes longer is abandoned and the original body is sent.'),
  })
  .describe('A plugin transform.');

export const transformSchema = z.union([
  z.strictObject({ 'png-to-jpeg': pngToJpegSchema.prefault({}) }),
  moduleTransformSchema,
]);

export const budgetSchema = z
  .strictObject({
    by: z.enum(['user', 'client', 'ip']).describe('Whose spend: `user` (a JWT user, `<client>:<claim>`; falls back to the IP when the caller has no user), `client` (relay client name; the IP on open routes) or `ip`.'),
    tokens: count().optional().describe('Token limit per window (`200k`, `20M`). Needs `usage: auto`. Exactly one of `tokens` and `requests`.'),
    requests: count().optional().describe('Admitted-request limit per window.'),
    per: budgetWindow().describe('Window: `day`, `week` (from Monday) or `month` in `budgets.timezone`, or a duration (`1h`, `6h`) aligned to the epoch.'),
    count: z.enum(['input', 'output', 'total']).default('total').describe('Which tokens count against `tokens`.'),
    hold: count().prefault(4096).describe('Output tokens held before forwarding when the request names no output cap (`max_tokens`, `max_completion_tokens`, `max_output_tokens`, `generationConfig.maxOutputTokens`).'),
  })
  .describe('One budget: a cap on what each user, client or IP spends per window.');
export const routeCacheSchema = z
  .strictObject({
    paths: z
      .array(z.string().regex(/^\/[^?#\s]*$/, 'must be a path starting with "/" (no query, no spaces)'))
      .min(1)
      .describe('Paths after the route prefix whose answers are cached: exact, query excluded, `*` matching one segment (`/v1/models/*`).'),
    methods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])).min(1).default(['GET', 'HEAD']).describe('Methods whose answers are cached. POST must be listed explicitly (embeddings, chat at temperature 0).'),
    ttl: duration().refine((ms) => ms > 0, 'must be longer than 0').prefault('10m').describe('How long an answer is kept.'),
    maxTtl: duration().optional().describe('The longest a client may ask for with `X-Relay-Cache-TTL`. Default: `ttl` (clients may only shorten it).'),
    scope: z.enum(['client', 'shared']).default('client').describe('`client`: entries are per relay client (and per user, and per IP on open routes); `shared`: one entry for every caller — only for answers that are the same for everyone.'),
    headers: z.array(headerName()).default([]).describe('Request headers that change the answer (e.g. `openai-beta`), added to the key. `Accept` and `Accept-Encoding` are always keyed.'),
    stream: z.enum(['replay', 'bypass']).default('replay').describe('Server-sent event answers: `replay` records them while they stream and replays the events at once on a hit; `bypass` never caches streams.'),
  })
  .describe('Response cache of the route (off unless present). See docs/cache.md.');

export const routeSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'route names use letters, digits, `.`, `_`, `-`').optional().describe('Route name for logs and metrics. Default: the prefix.'),
    prefix: urlPath().describe('Path prefix; the longest matching prefix wins, on segment boundaries.'),
    upstream: upstreamUrl().describe('Upstream base URL; may include a base path (https://host/api/v1).'),
    stripPrefix: bool().default(true).describe('Remove the prefix before appending the rest of the path to the upstream URL.'),
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional().describe('Allowed methods. Default: all. Others get 405 with Allow.'),
    auth: z
      .union([z.literal('none'), z.array(z.string().min(1)).min(1)])
      .describe('Client names from `clients` admitted on this route, or `none` for an open route. Required: no accidentally open relays.'),
    cors: corsSchema.optional(),
    rateLimit: rateLimitSchema.optional(),
    headers: headersSchema.prefault({}),
    keys: keysSchema.optional(),
    oauth: oauthSchema.optional(),
    tls: upstreamTlsSchema.optional(),
    egress: egressSchema.partial().optional().describe('Per-route egress, overriding the global `egress`.'),
    connectTimeout: duration().prefault('10s').describe('TCP/TLS connect timeout to the upstream (or egress proxy).'),
    firstByteTimeout: duration().prefault('2m').describe('Time allowed until the upstream response headers arrive.'),
    idleTimeout: durationOrNone().prefault('5m').describe('No byte either way for this long ends the exchange, the upload included (a request body that stalls gets 408 request_timeout). Long generations live on while bytes flow.'),
    timeout: durationOrNone().prefault('none').describe('Whole-exchange limit (a request body still arriving at it gets 408 request_timeout). Default none, so streams are never cut mid-way.'),
    retries: int(0, 10).default(2).describe('Retries for failures where nothing reached the upstream (any method); other failures only for idempotent methods.'),
    heartbeat: duration().optional().describe('SSE keep-alive comment interval while the upstream is silent (and early 200 for stream requests).'),
    forwardClientIp: bool().default(false).describe('Send X-Forwarded-For/-Proto/-Host upstream. Default: strip every client-address header.'),
    forwardPrefix: bool().default(false).describe('Send X-Forwarded-Prefix (base path + route prefix).'),
    transforms: z.array(transformSchema).default([]).describe('Response transforms, applied in order when their match holds.'),
    usage: z.enum(['auto', 'none']).default('auto').describe('Read token usage from 2xx JSON and SSE responses (OpenAI chat/Responses/embeddings/images, Gemini, Anthropic, GigaChat) for the access log, metrics and budgets. `none`: never look.'),
    budget: z.array(budgetSchema).default([]).describe('Spend budgets of this route (docs/budgets.md). Every applicable budget must have room before a request is forwarded; 429 budget_exceeded otherwise.'),
    cache: routeCacheSchema.optional(),
  })
  .describe('One route: a path prefix relayed to one upstream.');

export const serverTlsSchema = z
  .strictObject({
    cert: z.string().describe('Certificate chain PEM file (relative to the config file).'),
    key: z.string().describe('Private key PEM file.'),
    selfSigned: bool().default(false).describe('Generate a self-signed pair at these paths when missing.'),
    hosts: z.array(z.string().min(1)).default(['localhost', '127.0.0.1', '::1']).describe('SANs for a generated certificate.'),
    http2: bool().default(true).describe('Offer HTTP/2 (ALPN h2) next to HTTP/1.1.'),
  })
  .describe('Serve HTTPS. Omit for plain HTTP.');

export const limitsSchema = z
  .strictObject({
    maxBodySize: size().prefault('32mb').describe('Largest request body; 413 beyond.'),
    maxHeaderSize: size().prefault('16kb').describe('Largest request head; 431 beyond.'),
    headersTimeout: duration().prefault('15s').describe('The request head must arrive within this (slowloris guard).'),
    sendTimeout: duration().prefault('60s').describe('A client that reads nothing for this long is dropped.'),
    maxConnections: int(1, 1e7).default(10000).describe('TCP connections past this are refused before anything on them is read: 503 overloaded on plain HTTP, closed before the handshake on TLS. An h2 connection counts once.'),
    keepAliveTimeout: duration().prefault('5s').describe('Idle client keep-alive connections are closed after this.'),
  })
  .describe('Hardening limits for client connections.');

export const dashboardSchema = z
  .strictObject({
    path: urlPath()
      .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must be a path such as /_relay (letters, digits, `._~-` segments, no trailing slash)')
      .describe('Where the dashboard answers (under every base path too). Routes whose prefix covers it yield to it.'),
    token: z
      .string()
      .min(16, 'the dashboard token must be at least 16 characters (e.g. `openssl rand -hex 24`)')
      .describe('Admin token for the login form. Must differ from every client token and from metricsToken; only a random session id is ever stored in the browser.'),
    listen: z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8788')
      .optional()
      .describe('Serve the dashboard on its own plain-HTTP listener (e.g. `127.0.0.1:8788`, reached through an SSH tunnel) instead of the main one. A restart applies a change.'),
    sessionIdle: duration().prefault('12h').describe('A dashboard session unused for this long ends (the operator logs in again).'),
  })
  .describe('The built-in dashboard (off unless set). docs/dashboard.md explains how to reach it safely.');

export const serverSchema = z
  .strictObject({
    host: z.string().default('0.0.0.0').describe('Listen address.'),
    port: int(0, 65535).default(8787).describe('Listen port.'),
    tls: serverTlsSchema.optional(),
    basePaths: z.array(urlPath()).min(1).default(['/']).describe('Every route also answers under each of these prefixes (e.g. ["/", "/r"] behind nginx).'),
    trustProxy: bool().default(false).describe('Take the client IP and protocol from X-Forwarded-* set by a front proxy.'),
    healthPath: urlPath().default('/health').describe('Liveness endpoint (under every base path).'),
    readyPath: urlPath().default('/ready').describe('Readiness endpoint: 503 while starting or draining.'),
    metricsPath: urlPath().optional().describe('Prometheus metrics endpoint; off when omitted.'),
    usagePath: urlPath().optional().describe('Where a caller reads its own budgets with its own credentials (e.g. /usage, under every base path); off when omitted.'),
    metricsToken: z.string().optional().describe('When set, /metrics requires `Authorization: Bearer <token>`.'),
    maxTransformSize: size().prefault('64mb').describe('Largest body a transform collects; larger bodies pass untouched.'),
    imageConversions: int(1, 256).optional().describe('Image conversions (png-to-jpeg) in flight per process; more wait their turn. Default: CPU count − 1, at least 1.'),
    limits: limitsSchema.prefault({}),
    shutdownGrace: duration().prefault('30s').describe('On SIGTERM, in-flight exchanges get this long to finish.'),
    drainDelay: duration().prefault('1s').describe('On SIGTERM, keep accepting (readyPath answers 503) this long before refusing new connections, so a load balancer notices; counted inside shutdownGrace.'),
    dashboard: dashboardSchema.optional(),
  })
  .describe('Listener settings.');

export const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level (LOG_LEVEL and --log-level override).'),
    format: z.enum(['auto', 'pretty', 'json']).default('auto').describe('auto: pretty on a TTY, JSON otherwise.'),
    bodies: bool().default(false).describe('Debug: log request/response bodies, truncated and redacted.'),
  })
  .describe('Logging.');

export const forwardProxySchema = z
  .strictObject({
    port: int(0, 65535).describe('Listen port of the forward proxy.'),
    host: z.string().default('0.0.0.0').describe('Listen address.'),
    users: z.record(z.string().min(1), z.string().min(1)).default({}).describe('user: password pairs for Proxy-Authorization: Basic. Empty: no auth (only sensible on loopback).'),
    allow: z.array(z.string().min(1)).min(1).describe('Allowed host:port targets; `*.example.com:443` wildcards.'),
    denyPrivateNetworks: bool().default(true).describe('Refuse targets that resolve to loopback, private, link-local, CGNAT, unique-local or metadata addresses.'),
    idleTimeout: duration().prefault('5m').describe('A tunnel with no bytes either way for this long is closed.'),
    maxConnections: int(1, 1e7).default(1000).describe('TCP connections (tunnels, keep-alive connections carrying proxied requests) past this get 503 before a request on them is read.'),
  })
  .describe('Run ai-relay as an HTTP forward proxy (CONNECT + absolute-form), a Squid replacement for the VPS.');

export const budgetsSchema = z
  .strictObject({
    store: z
      .string()
      .regex(/^(memory|rediss?:\/\/.+)$/, 'must be `memory` or a redis://host:port URL')
      .default('memory')
      .describe('`memory` (one process) or `redis://host:6379` to share spend between relays (a Redis that never evicts: maxmemory-policy noeviction).'),
    timezone: z
      .string()
      .refine(validTimeZone, 'must be an IANA time zone such as UTC or Europe/Moscow')
      .default('UTC')
      .describe('Time zone of calendar windows (day, week, month).'),
    onStoreError: z.enum(['closed', 'open']).default('closed').describe('Redis down: `closed` answers 503 budget_unavailable; `open` serves uncounted (one warning per outage).'),
    maxCallers: int(1, 1e8).default(100_000).describe('memory store: budget entries kept; the least recently used go first.'),
  })
  .describe('Where budgets keep spend (routes[].budget).');

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const cacheSchema = z
  .strictObject({
    store: z
      .string()
      .regex(/^(memory|rediss?:\/\/.+)$/, 'must be `memory` or a redis://host:port URL')
      .default('memory')
      .describe('`memory` (per process, least recently used evicted) or `redis://host:6379` to share entries between relays. Use a Redis apart from the budgets\' (cache wants `allkeys-lru`, budgets need `noeviction`).'),
    maxSize: size().prefault('256mb').describe('Memory store: total bytes of all entries; the least recently used are evicted beyond it.'),
    maxEntrySize: size().prefault('1mb').describe('Largest answer stored (and largest request body read to compute a key); a larger one streams through unstored.'),
    timeout: duration().prefault('200ms').describe('Redis store: deadline of one operation; past it the request is served from upstream.'),
  })
  .describe('Where response-cache entries live (routes opt in with their own `cache`).');

export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    log: logSchema.prefault({}),
    clients: z
      .record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'client names use letters, digits, `.`, `_`, `-`'), clientSchema)
      .default({})
      .describe('Callers, by client name: a shared relay token, or `{ jwt: {…} }` for the signed-in users of a JWT issuer (docs/identity.md).'),
    egress: egressSchema.prefault({}),
    routes: z.array(routeSchema).default([]).describe('The route table.'),
    forwardProxy: forwardProxySchema.optional(),
    budgets: budgetsSchema.prefault({}),
    cache: cacheSchema.prefault({}),
  })
  .describe('ai-relay configuration.');

export type RelayConfig = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type TransformConfig = z.output<typeof transformSchema>;
export type PngToJpegOptions = z.output<typeof pngToJpegSchema>;
export type CorsConfig = z.output<typeof corsSchema>;
export type RateLimitConfig = z.output<typeof rateLimitSchema>;
export type KeysConfig = z.output<typeof keysSchema>;
export type OAuthConfig = z.output<typeof oauthSchema>;
export type UpstreamTlsConfig = z.output<typeof upstreamTlsSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type ForwardProxyConfig = z.output<typeof forwardProxySchema>;
export type LogConfig = z.output<typeof logSchema>;
export type JwtClientConfig = z.output<typeof jwtClientSchema>;
export type ClientConfig = z.output<typeof clientSchema>;
export type BudgetConfig = z.output<typeof budgetSchema>;
export type BudgetsConfig = z.output<typeof budgetsSchema>;
export type CacheConfig = z.output<typeof cacheSchema>;
export type RouteCacheConfig = z.output<typeof routeCacheSchema>;
export type DashboardConfig = z.output<typeof dashboardSchema>;
