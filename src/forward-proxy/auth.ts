/**
 * `Proxy-Authorization: Basic` against the configured users. Passwords are compared as SHA-256
 * digests with timingSafeEqual (equal lengths, constant time), and an unknown user costs the same
 * comparison, so timing tells an attacker neither the password nor which users exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type AuthResult = { ok: true; user: string } | { ok: false; user?: string };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const DUMMY = digest('\0ai-relay-no-such-user\0');

export function checkProxyAuth(header: string | undefined, users: Record<string, string>): AuthResult {
  if (Object.keys(users).length === 0) return { ok: true, user: '-' };
  const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return { ok: false };
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { ok: false };
  const user = decoded.slice(0, colon);
  const given = digest(decoded.slice(colon + 1));
  const known = Object.hasOwn(users, user);
  const expected = known ? digest(users[user]!) : DUMMY;
  const match = timingSafeEqual(given, expected);
  return known && match ? { ok: true, user } : { ok: false, user };
}
