/**
 * Checks that span several fields (the schema checks one field at a time). Each finding names
 * the config path it is about, so load.ts can point at the YAML line.
 */
import type { RelayConfig } from './schema.js';
import { parseProxyUrl } from '../upstream/egress-url.js';

export interface Finding {
  path: (string | number)[];
  message: string;
}

export function crossValidate(cfg: RelayConfig): { errors: Finding[]; warnings: Finding[] } {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const names = new Map<string, number>();
  const prefixes = new Map<string, number>();

  cfg.routes.forEach((r, i) => {
    const at = (...p: (string | number)[]) => ['routes', i, ...p];
    const name = r.name ?? r.prefix;
    if (names.has(name)) errors.push({ path: at(r.name ? 'name' : 'prefix'), message: `duplicate route name "${name}" (also route #${names.get(name)! + 1})` });
    names.set(name, i);
    const pfx = normalisePrefix(r.prefix);
    if (prefixes.has(pfx)) errors.push({ path: at('prefix'), message: `duplicate prefix "${r.prefix}" (also route #${prefixes.get(pfx)! + 1})` });
    prefixes.set(pfx, i);
    if (/(^|\/)\.\.?(\/|$)|%|\\/.test(r.prefix)) errors.push({ path: at('prefix'), message: 'prefix must not contain dot segments, % escapes or backslashes' });

    if (Array.isArray(r.auth)) {
      r.auth.forEach((c, j) => {
        if (!(c in cfg.clients)) {
          const known = Object.keys(cfg.clients);
          errors.push({
            path: at('auth', j),
            message: `unknown client "${c}"${known.length ? ` (clients: ${known.join(', ')})` : ' (no `clients` are defined)'}`,
          });
        }
      });
    }
    if (r.cors) {
      if (r.cors.credentials && r.cors.origins.includes('*')) {
        errors.push({ path: at('cors', 'credentials'), message: 'credentials: true cannot be combined with origin "*" (browsers refuse it); list the origins' });
      }
      r.cors.origins.forEach((o, j) => {
        if (o !== '*' && o !== 'null' && !/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/.test(o)) {
          errors.push({ path: at('cors', 'origins', j), message: `origin "${o}" must look like https://host[:port], https://*.host, * or null` });
        }
      });
    }
    if (r.keys) {
      const h = r.keys.header.toLowerCase();
      if (Object.keys(r.headers.set).some((k) => k.toLowerCase() === h)) {
        errors.push({ path: at('keys', 'header'), message: `keys.header "${r.keys.header}" is also set in headers.set; use one or the other` });
      }
      if (!r.keys.format.includes('{key}')) errors.push({ path: at('keys', 'format'), message: 'format must contain {key}' });
      if (r.oauth) errors.push({ path: at('oauth'), message: 'a route uses either a key pool (`keys`) or `oauth`, not both' });
    }
    if (r.oauth) {
      const o = r.oauth;
      if (o.type === 'gigachat' && !o.authorizationKey) errors.push({ path: at('oauth'), message: 'oauth type gigachat needs authorizationKey' });
      if (o.type === 'gigachat' && !o.scope) errors.push({ path: at('oauth'), message: 'oauth type gigachat needs scope (e.g. GIGACHAT_API_PERS)' });
      if (o.type === 'client-credentials' && (!o.clientId || !o.clientSecret)) errors.push({ path: at('oauth'), message: 'oauth type client-credentials needs clientId and clientSecret' });
    }
    if (r.tls?.insecure) warnings.push({ path: at('tls', 'insecure'), message: `route "${name}": tls.insecure is on — upstream certificates are NOT verified` });
    if ((r.tls?.cert === undefined) !== (r.tls?.key === undefined)) errors.push({ path: at('tls'), message: 'mutual TLS needs both tls.cert and tls.key' });
    if (r.auth === 'none') warnings.push({ path: at('auth'), message: `route "${name}" is open (auth: none): anyone who can reach the relay can use it` });
    r.transforms.forEach((t, j) => {
      if ('png-to-jpeg' in t && t['png-to-jpeg'].fields) {
        t['png-to-jpeg'].fields.forEach((f, k) => {
          if (!/^[A-Za-z0-9_$-]+(\[\])?(\.[A-Za-z0-9_$-]+(\[\])?)*$/.test(f)) errors.push({ path: at('transforms', j, 'png-to-jpeg', 'fields', k), message: `field path "${f}" must look like result.files[] or data[].b64_json` });
        });
      }
    });
  });

  const checkEgress = (proxy: string | undefined, path: (string | number)[]) => {
    if (proxy === undefined || proxy === 'env' || proxy === 'none' || proxy === '') return;
    try {
      parseProxyUrl(proxy);
    } catch (err) {
      errors.push({ path, message: (err as Error).message });
    }
  };
  checkEgress(cfg.egress.proxy, ['egress', 'proxy']);
  cfg.routes.forEach((r, i) => checkEgress(r.egress?.proxy, ['routes', i, 'egress', 'proxy']));

  const bases = new Set<string>();
  cfg.server.basePaths.forEach((b, i) => {
    const n = normalisePrefix(b);
    if (bases.has(n)) errors.push({ path: ['server', 'basePaths', i], message: `duplicate base path "${b}"` });
    bases.add(n);
  });

  const dash = cfg.server.dashboard;
  if (dash) {
    const at = (...p: (string | number)[]) => ['server', 'dashboard', ...p];
    const dp = normalisePrefix(dash.path);
    if (dp === '/') errors.push({ path: at('path'), message: 'the dashboard path must not be "/" (it would shadow every route)' });
    if (/(^|\/)\.\.?(\/|$)/.test(dash.path)) errors.push({ path: at('path'), message: 'the dashboard path must not contain dot segments' });
    for (const [key, p] of [['healthPath', cfg.server.healthPath], ['readyPath', cfg.server.readyPath], ['metricsPath', cfg.server.metricsPath]] as const) {
      if (p !== undefined && (normalisePrefix(p) === dp || normalisePrefix(p).startsWith(`${dp}/`))) errors.push({ path: at('path'), message: `the dashboard path must not cover server.${key} (${p})` });
    }
    cfg.server.basePaths.forEach((b, i) => {
      const nb = normalisePrefix(b);
      if (nb !== '/' && (nb === dp || nb.startsWith(`${dp}/`))) errors.push({ path: ['server', 'basePaths', i], message: `base path "${b}" lies under the dashboard path ${dash.path}` });
    });
    cfg.routes.forEach((r, i) => {
      const rp = normalisePrefix(r.prefix);
      // Such a route could never be reached: the dashboard answers everything under its path.
      if (rp === dp || rp.startsWith(`${dp}/`)) errors.push({ path: ['routes', i, 'prefix'], message: `prefix "${r.prefix}" lies under the dashboard path ${dash.path}, which answers everything below it` });
    });
    // An admin token that is also a client token would let every app holding it read the dashboard.
    for (const [name, token] of Object.entries(cfg.clients)) {
      if (token && token === dash.token) errors.push({ path: at('token'), message: `the dashboard token must differ from every client token (it equals the token of client "${name}")` });
    }
    if (cfg.server.metricsToken && cfg.server.metricsToken === dash.token) errors.push({ path: at('token'), message: 'the dashboard token must differ from server.metricsToken' });
    if (dash.listen) {
      const port = Number(dash.listen.slice(dash.listen.lastIndexOf(':') + 1));
      if (port > 65535) errors.push({ path: at('listen'), message: `port ${port} is out of range` });
      else if (port !== 0 && port === cfg.server.port) errors.push({ path: at('listen'), message: 'dashboard.listen must use another port than server.port' });
    }
  }

  if (cfg.forwardProxy) {
    cfg.forwardProxy.allow.forEach((a, i) => {
      if (!/^(\*\.)?[A-Za-z0-9.-]+:(\d+|\*)$/.test(a) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(a)) {
        errors.push({ path: ['forwardProxy', 'allow', i], message: `allow entry "${a}" must be host:port (e.g. api.openai.com:443, *.googleapis.com:443)` });
      }
    });
    if (cfg.forwardProxy.port !== 0 && cfg.forwardProxy.port === cfg.server.port) {
      errors.push({ path: ['forwardProxy', 'port'], message: 'forwardProxy.port must differ from server.port' });
    }
  }
  return { errors, warnings };
}

export function normalisePrefix(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' ? '/' : t;
}
