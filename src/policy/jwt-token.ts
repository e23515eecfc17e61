/**
 * A presented bearer token before any verification: does it have the shape of a JWT, what does its
 * (unverified) payload say, and the one answer every bad token gets. No jose here: the shared-token
 * path imports this, and a relay without JWT clients never loads jose (src/policy/jwt.ts).
 */
import { RelayError } from '../errors.js';

/** Three base64url parts (the signature may be empty: `alg: none` tokens get a clear 401 too). */
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return token.length < 16_384 && JWT_SHAPE.test(token);
}

/**
 * The unverified payload, or undefined when it is not a JSON object. Only ever used to choose
 * which issuer's keys verify the token (and to drop a known issuer's token from upstream headers);
 * nothing in it is trusted before verification.
 */
export function peekPayload(token: string): Record<string, unknown> | undefined {
  const dot = token.indexOf('.');
  const end = token.indexOf('.', dot + 1);
  if (dot < 0 || end < 0) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(token.slice(dot + 1, end), 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * RFC 6750 §3.1: a presented token that is no good is `invalid_token`. The reason goes in the body
 * for the developer; the token itself never does.
 */
export function invalidToken(reason: string): RelayError {
  return new RelayError('unauthorized', `invalid token: ${reason}`, { headers: { 'www-authenticate': 'Bearer realm="ai-relay", error="invalid_token"' } });
}
