/**
 * Store keys: `ai-relay:b:<route>:<by>:<hex sha256 of the caller id>:<window>`. The id is hashed
 * so user ids (emails, often) never sit in Redis in clear, and any id fits a key.
 */
import { hash } from 'node:crypto';

export function budgetKey(route: string, by: string, callerId: string, windowId: string): string {
  return `ai-relay:b:${route}:${by}:${hash('sha256', callerId, 'hex')}:${windowId}`;
}
