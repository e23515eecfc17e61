/**
 * Parsing an egress proxy URL into what a connector needs. Credentials are percent-decoded
 * here (as curl and undici do: `p%40ss` is the password `p@ss`) and never appear in
 * `describe`, which is the only form of the URL that may reach a log line or an error.
 */
import { stripCredentials } from '../log/redact.js';
import { egressError } from './egress-errors.js';

export type ProxyKind = 'http' | 'https' | 'socks5' | 'socks5h';

export interface ProxyTarget {
  kind: ProxyKind;
  /** Host name or IP literal of the proxy, without IPv6 brackets. */
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Credential-free URL for logs and errors: `http://egress.example:3128`. */
  describe: string;
}

const DEFAULT_PORTS: Record<ProxyKind, number> = { http: 80, https: 443, socks5: 1080, socks5h: 1080 };

export function parseProxyUrl(raw: string): ProxyTarget {
  // curl accepts a bare `host:port` and means http://; a bare word ("direct", "off") is a typo.
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (!hasScheme && !/:\d+$/.test(raw)) {
    throw egressError('ERR_EGRESS_INVALID', `invalid egress proxy ${JSON.stringify(stripCredentials(raw))}: use none, env or a proxy URL (http://, https://, socks5://, socks5h://)`);
  }
  const text = hasScheme ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw egressError('ERR_EGRESS_INVALID', `invalid egress proxy URL ${stripCredentials(raw)}`);
  }
  const kind = url.protocol.slice(0, -1).toLowerCase() as ProxyKind;
  if (!(kind in DEFAULT_PORTS)) {
    throw egressError(
      'ERR_EGRESS_INVALID',
      `unsupported egress proxy scheme ${url.protocol}// in ${stripCredentials(raw)} (use http, https, socks5 or socks5h)`,
    );
  }
  if (!url.hostname) throw egressError('ERR_EGRESS_INVALID', `egress proxy URL ${stripCredentials(raw)} has no host`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[kind];
  const target: ProxyTarget = {
    kind,
    host,
    port,
    describe: `${kind}://${url.hostname}:${port}`,
  };
  if (url.username || url.password) {
    target.username = safeDecode(url.username);
    target.password = safeDecode(url.password);
  }
  return target;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
