/**
 * The one error vocabulary of the relay. Every error a client can see is a RelayError with a
 * stable `type` from spec §5; the HTTP status is derived from the type so the two never drift.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  no_route: 404,
  method_not_allowed: 405,
  /** The request body stalled past the route's idleTimeout, or was still arriving at its timeout. */
  request_timeout: 408,
  body_too_large: 413,
  header_too_large: 431,
  rate_limited: 429,
  budget_exceeded: 429,
  upstream_unreachable: 502,
  upstream_error: 502,
  route_disabled: 503,
  overloaded: 503,
  auth_unavailable: 503,
  budget_unavailable: 503,
  upstream_timeout: 504,
  internal_error: 500,
} as const;

export type RelayErrorType = keyof typeof ERROR_STATUS;

export class RelayError extends Error {
  readonly type: RelayErrorType;
  readonly status: number;
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate…). */
  readonly headers: Record<string, string> | undefined;
  /** Extra fields of the error body (budget_exceeded: limit, used, resets_at). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    type: RelayErrorType,
    message: string,
    opts: { cause?: unknown; headers?: Record<string, string>; details?: Record<string, unknown> } = {},
  ) {
    // A RelayError is an answer to a client (a bad token, a rate limit, an upstream that failed),
    // not a fault in the relay, so it carries no stack trace: capturing one cost 6.8 µs of every
    // refused request (A/B: 43.5 → 31.3 µs CPU per 401, bench/analysis.md), and a flood of
    // refused requests is when that counts.
    // A `cause` keeps its own stack.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    Error.stackTraceLimit = limit;
    this.name = 'RelayError';
    this.type = type;
    this.status = ERROR_STATUS[type];
    this.headers = opts.headers;
    this.details = opts.details;
  }
}

/** The JSON body of a relay-generated error, in the OpenAI error shape SDKs already parse. */
export function errorBody(err: RelayError, route: string | undefined, requestId: string): string {
  return JSON.stringify({
    error: { type: err.type, message: err.message, route: route ?? null, request_id: requestId, ...err.details },
  });
}

/** Errors about configuration: each issue carries a position in the YAML file. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col} ${i.message}`;
}
