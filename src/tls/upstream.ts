/**
 * Per-route TLS for connections to the upstream (and its OAuth token endpoint). Compiled once per
 * config load: files are read and checked here, so a wrong path fails `serve` and `check`
 * instead of the first request.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, rootCertificates, type ConnectionOptions } from 'node:tls';
import type { UpstreamTlsConfig } from '../config/schema.js';

export { explainTlsError } from './explain.js';

/**
 * Connection options for undici's `connect` (or node:https). With a `ca` or a client
 * certificate, a SecureContext is built once here: handing `ca` itself to every connection
 * would make Node re-parse ~150 root certificates per handshake.
 */
export function buildUpstreamTls(routeTls: UpstreamTlsConfig | undefined, configDir: string): ConnectionOptions {
  if (!routeTls) return {};
  const opts: ConnectionOptions = {};
  if (routeTls.insecure) opts.rejectUnauthorized = false;
  if (routeTls.servername) opts.servername = routeTls.servername;

  if ((routeTls.cert === undefined) !== (routeTls.key === undefined)) {
    throw new Error(`tls.${routeTls.cert === undefined ? 'cert' : 'key'} is missing: mutual TLS needs both tls.cert and tls.key`);
  }
  const ca = routeTls.ca === undefined ? undefined : readCaBundle(resolve(configDir, routeTls.ca));
  const client = routeTls.cert === undefined || routeTls.key === undefined
    ? undefined
    : readClientPair(resolve(configDir, routeTls.cert), resolve(configDir, routeTls.key));

  if (ca || client) {
    opts.secureContext = createSecureContext({
      // Added to, never replacing, the public roots: GigaChat's Russian Trusted Root CA has to
      // sit beside the CAs every other upstream (and the egress proxy) relies on.
      ...(ca ? { ca: caBundle(ca) } : {}),
      ...(client ?? {}),
    });
  }
  return opts;
}

/**
 * The trust list for a route with `tls.ca`: Node's bundled roots, NODE_EXTRA_CA_CERTS (which
 * `tls.rootCertificates` leaves out although Node's default store has it), then the route's CAs.
 */
export function caBundle(extra: readonly string[]): string[] {
  return [...rootCertificates, ...extraCaFromEnv(), ...extra];
}

/** Human-readable warnings for a route's TLS settings, for `serve` startup and `check`. */
export function upstreamTlsWarnings(routeName: string, routeTls: UpstreamTlsConfig | undefined): string[] {
  if (!routeTls?.insecure) return [];
  return [
    `route ${routeName}: tls.insecure is true, so the upstream's certificate is NOT verified; anyone on the path can read and change this traffic, including the API key. Use tls.ca with the upstream's CA instead.`,
  ];
}

function readCaBundle(path: string): string[] {
  const text = readText(path, 'tls.ca');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new Error(`tls.ca ${path} contains no PEM certificate (expected -----BEGIN CERTIFICATE-----; convert a DER .crt with \`openssl x509 -inform der -in FILE -out FILE.pem\`)`);
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new Error(`tls.ca ${path} contains a certificate that does not parse: ${(err as Error).message}`, { cause: err });
    }
  }
  return blocks;
}

function readClientPair(certPath: string, keyPath: string): { cert: string; key: string } {
  const cert = readText(certPath, 'tls.cert');
  const key = readText(keyPath, 'tls.key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`tls.cert ${certPath} is not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new Error(`tls.key ${keyPath} is not a usable PEM private key (${(err as Error).message})`, { cause: err });
  }
  if (!matches) throw new Error(`tls.key ${keyPath} does not match the client certificate ${certPath}`);
  return { cert, key };
}

/** Read per call, so setting `ca` on a route never takes away trust the operator configured. */
function extraCaFromEnv(): string[] {
  const file = process.env['NODE_EXTRA_CA_CERTS'];
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  } catch {
    return []; // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS.
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new Error(`${what}: cannot read ${path}: ${why}`, { cause: err });
  }
}
