/**
 * Ends an exchange's budget hold: the usage read from the response replaces it. Without usage the
 * hold is charged (and the access log says `usage: estimated`) when the upstream may have spent
 * something — it got the request and did not refuse it with an error status (a client that left
 * mid-stream, a stream cut, a body the relay could not read). An upstream error status, or an
 * upstream never reached, costs nothing.
 */
import type { Exchange } from './context.js';

export function settleBudget(x: Exchange): void {
  const ticket = x.budget;
  if (!ticket) return;
  x.budget = undefined;
  if (typeof x.usage === 'object') return ticket.settle(x.usage, false);
  if (x.usage === 'none') return ticket.settle(undefined, false);
  const spent = x.upstreamStart > 0 && (x.status < 400 || x.status === 499);
  if (spent && ticket.countsTokens) x.usage = 'estimated';
  ticket.settle(undefined, spent);
}
