/**
 * Dashboard sessions: the browser holds only a random 256-bit id (never the admin token). The map
 * is keyed by the id's SHA-256, bounded (the oldest session goes first) and each session ends
 * after `idleMs` without use. A session also ends when the admin token changes (reload).
 */
import { createHash, randomBytes } from 'node:crypto';

export const MAX_SESSIONS = 64;

interface Session {
  /** Hash of the admin token the session was opened with. */
  tokenTag: string;
  lastSeen: number;
}

export class Sessions {
  private readonly byKey = new Map<string, Session>();

  constructor(
    private readonly idleMs: () => number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Opens a session; returns the raw id for the cookie and the key the relay knows it by. */
  create(tokenTag: string): { id: string; key: string } {
    this.sweep();
    while (this.byKey.size >= MAX_SESSIONS) {
      const oldest = this.byKey.keys().next().value as string;
      this.byKey.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const key = keyOf(id);
    this.byKey.set(key, { tokenTag, lastSeen: this.clock() });
    return { id, key };
  }

  /** The session key when `id` names a live session opened with the current token. */
  check(id: string | undefined, tokenTag: string): string | undefined {
    if (!id || id.length > 100) return undefined;
    const key = keyOf(id);
    return this.touch(key, tokenTag) ? key : undefined;
  }

  /** Keeps a session alive (an open event stream counts as use); false when it is gone. */
  touch(key: string, tokenTag: string): boolean {
    const s = this.byKey.get(key);
    if (!s) return false;
    const now = this.clock();
    if (s.tokenTag !== tokenTag || now - s.lastSeen > this.idleMs()) {
      this.byKey.delete(key);
      return false;
    }
    s.lastSeen = now;
    // Re-insert so the Map's order stays least-recently-used first (eviction takes the first).
    this.byKey.delete(key);
    this.byKey.set(key, s);
    return true;
  }

  end(key: string): void {
    this.byKey.delete(key);
  }

  get size(): number {
    return this.byKey.size;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, s] of this.byKey) if (now - s.lastSeen > this.idleMs()) this.byKey.delete(k);
  }
}

export function keyOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** Sessions remember the token they were opened with by this tag, so a new token ends them. */
export function tokenTag(token: string): string {
  return createHash('sha256').update(`ai-relay dashboard\0${token}`).digest('hex');
}
