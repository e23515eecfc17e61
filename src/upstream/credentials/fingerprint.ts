/**
 * A short, stable name for a secret that reveals nothing useful about it: the first 4 hex digits
 * of its SHA-256 (16 bits — enough to tell the keys of one pool apart, far too few to guess one).
 */
import { createHash } from 'node:crypto';

export function keyFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 4);
}
