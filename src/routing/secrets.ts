/**
 * Every secret the config holds (spec §10 "Secrets"): values from variables in secret-bearing
 * sections (found by the loader) plus the literal values of fields that are secret by nature.
 */
import type { LoadedConfig } from '../config/load.js';

export function collectSecrets(loaded: LoadedConfig): string[] {
  const c = loaded.config;
  const out = [...loaded.secretValues];
  for (const client of Object.values(c.clients)) {
    if (typeof client === 'string') out.push(client);
    else if (client.jwt.secret) out.push(client.jwt.secret);
  }
  if (c.server.metricsToken) out.push(c.server.metricsToken);
  if (c.server.dashboard) out.push(c.server.dashboard.token);
  for (const r of c.routes) {
    out.push(...Object.values(r.headers.set));
    if (r.keys) out.push(...r.keys.values, ...r.keys.values.map((k) => r.keys!.format.replace('{key}', k)));
    if (r.oauth?.authorizationKey) out.push(r.oauth.authorizationKey);
    if (r.oauth?.clientSecret) out.push(r.oauth.clientSecret);
    if (r.egress?.proxy) out.push(...urlSecrets(r.egress.proxy));
  }
  out.push(...urlSecrets(c.egress.proxy));
  if (c.forwardProxy) out.push(...Object.values(c.forwardProxy.users));
  return out.filter((s) => typeof s === 'string' && s.length >= 4);
}

function urlSecrets(u: string): string[] {
  try {
    const url = new URL(u);
    return [url.password, decodeURIComponent(url.password)].filter(Boolean);
  } catch {
    return [];
  }
}
