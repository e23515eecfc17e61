/**
 * The configuration schema: the single source of truth for types, defaults, validation and the
 * reference docs (`docs/config.md` is generated from the `.describe()` texts by
 * scripts/gen-config-docs.ts). Zod gives us strict objects (unknown keys are errors), precise
 * issue paths (mapped back to YAML line:col in load.ts) and inferred TypeScript types.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

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
    by: z.enum(['client', 'ip']).default('client').describe('Key the bucket by relay client name (falls back to IP on open routes) or by client IP.'),
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
    idleTimeout: durationOrNone().prefault('5m').describe('No byte either way for this long ends the exchange. Long generations live on while bytes flow.'),
    timeout: durationOrNone().prefault('none').describe('Whole-exchange limit. Default none, so streams are never cut mid-way.'),
    retries: int(0, 10).default(2).describe('Retries for failures where nothing reached the upstream (any method); other failures only for idempotent methods.'),
    heartbeat: duration().optional().describe('SSE keep-alive comment interval while the upstream is silent (and early 200 for stream requests).'),
    forwardClientIp: bool().default(false).describe('Send X-Forwarded-For/-Proto/-Host upstream. Default: strip every client-address header.'),
    forwardPrefix: bool().default(false).describe('Send X-Forwarded-Prefix (base path + route prefix).'),
    transforms: z.array(transformSchema).default([]).describe('Response transforms, applied in order when their match holds.'),
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
    maxConnections: int(1, 1e7).default(10000).describe('Connections past this get 503.'),
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
    maxConnections: int(1, 1e7).default(1000).describe('Tunnels past this are refused with 503.'),
  })
  .describe('Run ai-relay as an HTTP forward proxy (CONNECT + absolute-form), a Squid replacement for the VPS.');

export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    log: logSchema.prefault({}),
    clients: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'client names use letters, digits, `.`, `_`, `-`'), z.string()).default({}).describe('Relay tokens that callers present, by client name.'),
    egress: egressSchema.prefault({}),
    routes: z.array(routeSchema).default([]).describe('The route table.'),
    forwardProxy: forwardProxySchema.optional(),
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
export type DashboardConfig = z.output<typeof dashboardSchema>;
