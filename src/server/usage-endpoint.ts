/**
 * `server.usagePath`: a caller reads its own budgets with its own credentials (spec §12), so a
 * page can show "12,400 tokens left today". The credentials are checked against every enabled
 * route exactly as a request there would be; the answer covers the budgeted routes they open
 * (and budgeted open routes, where the caller is its IP). Nothing else is ever shown: the keys
 * are derived from the caller's own identity. No valid credentials → 401. CORS: as on the
 * routes the caller may use.
 */
import type { BudgetService } from '../budgets/service.js';
import { RelayError } from '../errors.js';
import type { CompiledRoute } from '../routing/table.js';
import type { Exchange } from './context.js';
import { sendError, sendJson } from './respond.js';

export async function usageEndpoint(x: Exchange, service: BudgetService): Promise<void> {
  const { req } = x;
  const enabled = x.table.routes.filter((r) => !r.disabledReason);
  const origin = req.headers.origin;
  if (x.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
    const r = enabled.find((e) => e.cors?.allows(origin));
    if (!r) return sendError(x, new RelayError('forbidden', `origin ${origin} is not allowed`));
    x.status = 204;
    x.res.writeHead(204, { ...r.cors!.preflightHeaders(origin, req.headers['access-control-request-headers'] as string | undefined), vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers', 'x-request-id': x.requestId, 'content-length': '0' });
    x.res.end();
    return;
  }
  if (x.method !== 'GET' && x.method !== 'HEAD') return sendError(x, new RelayError('method_not_allowed', `${x.table.usagePath} answers GET`, { headers: { allow: 'GET, HEAD' } }));

  let firstError: RelayError | undefined;
  const mine: CompiledRoute[] = [];
  for (const r of enabled) {
    if (r.auth.open) {
      mine.push(r);
      continue;
    }
    // A JWT is verified asynchronously (its key set may be fetched); a shared token is not.
    const a = await r.auth.check(req.headers);
    if (a instanceof RelayError) firstError ??= a;
    else if (a) {
      // The first route that admits the credentials names the caller; a route that admits them
      // as someone else (another JWT issuer) is not the caller's.
      if (x.client === undefined) {
        x.client = a.client;
        x.user = a.user; // JWT clients (§11) name the user too
      } else if (a.client !== x.client || a.user !== x.user) continue;
      mine.push(r);
    }
  }
  if (x.client === undefined) {
    return sendError(x, firstError ?? new RelayError('unauthorized', 'credentials required: send X-Proxy-Token or Authorization: Bearer <token>', { headers: { 'www-authenticate': 'Bearer realm="ai-relay"' } }));
  }
  const extra: Record<string, string> = {};
  if (origin !== undefined) {
    const r = mine.find((e) => e.cors?.allows(origin));
    if (!r) return sendError(x, new RelayError('forbidden', `origin ${origin} is not allowed`));
    Object.assign(extra, r.cors!.responseHeaders(origin), { vary: 'Origin' });
  }
  const caller = { client: x.client, user: x.user, ip: x.ip };
  const now = service.now();
  const rows = mine.filter((r) => r.budgets).flatMap((r) => r.budgets!.lines(caller, now).map((l) => ({ route: r.name, l })));
  let states;
  try {
    states = await service.store.peek(rows.map((e) => e.l.key));
    service.storeOk();
  } catch (err) {
    service.storeFailed(err);
    return sendError(x, new RelayError('budget_unavailable', 'the budget store is unavailable'));
  }
  sendJson(
    x,
    200,
    {
      client: x.client,
      user: x.user ?? null,
      budgets: rows.map(({ route, l }, i) => {
        const used = states[i]!.used + states[i]!.held;
        return { route, by: l.budget.by, unit: l.unit, limit: l.limit, used, remaining: Math.max(0, l.limit - used), resets_at: new Date(l.end).toISOString() };
      }),
    },
    extra,
  );
}
