/**
 * Certificate files on disk: writing a generated pair safely (key mode 0600, atomic rename, no
 * silent overwrite) and loading the listener's pair with errors that name the file at fault.
 */
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError } from '../cli/errors.js';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_CERT_DAYS, generateCertificate } from './generate.js';

export type ServerTlsConfig = NonNullable<ServerConfig['tls']>;

/** What a TLS listener needs, plus facts worth logging. */
export interface ServerTlsMaterial {
  key: string;
  cert: string;
  fingerprint256: string;
  notAfter: Date;
  /** Absolute paths the material came from (for log lines and reload messages). */
  certPath: string;
  keyPath: string;
  /** True when this load generated the pair. */
  generated: boolean;
}

export interface WriteCertificatePairOptions {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  force: boolean;
}

/** Refuses (CliError, exit 1) when either file exists and `force` is off; call before generating. */
export async function assertCanWrite(paths: readonly string[], force: boolean): Promise<void> {
  if (force) return;
  for (const p of paths) {
    if (await exists(p)) throw new CliError(`${p} already exists; pass --force to overwrite it`, 1);
  }
}

/**
 * Writes key then certificate, each through a temporary file renamed into place, so a reload
 * never reads half a file and the key is never readable by others, even for an instant.
 */
export async function writeCertificatePair(opts: WriteCertificatePairOptions): Promise<void> {
  await assertCanWrite([opts.certPath, opts.keyPath], opts.force);
  await mkdir(dirname(opts.keyPath), { recursive: true });
  await mkdir(dirname(opts.certPath), { recursive: true });
  await writeAtomic(opts.keyPath, opts.keyPem, 0o600);
  await writeAtomic(opts.certPath, opts.certPem, 0o644);
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have narrowed or the file system widened it
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new CliError(`cannot write ${path}: ${(err as Error).message}`, 1);
  }
}

/**
 * Loads (or, with `selfSigned`, first generates) the listener's certificate and key. Throws an
 * Error naming the file for anything that would make the listener unusable; an expired
 * certificate only warns, since the operator may be mid-renewal and clients can still pin it.
 */
export async function loadServerTls(
  tlsCfg: ServerTlsConfig,
  configDir: string,
  log: Logger,
): Promise<ServerTlsMaterial> {
  const certPath = resolve(configDir, tlsCfg.cert);
  const keyPath = resolve(configDir, tlsCfg.key);
  let generated = false;

  if (tlsCfg.selfSigned) {
    const [certThere, keyThere] = await Promise.all([exists(certPath), exists(keyPath)]);
    if (!certThere && !keyThere) {
      const pair = await generateCertificate({ hosts: tlsCfg.hosts, days: DEFAULT_CERT_DAYS, keyType: 'ec' });
      await writeCertificatePair({ certPath, keyPath, certPem: pair.certPem, keyPem: pair.keyPem, force: false });
      generated = true;
      log.info(
        { cert: certPath, key: keyPath, hosts: tlsCfg.hosts, fingerprint256: pair.fingerprint256, notAfter: pair.notAfter.toISOString() },
        `generated a self-signed certificate; SHA-256 fingerprint ${pair.fingerprint256}`,
      );
    } else if (certThere !== keyThere) {
      // Never overwrite half of an existing pair: the present file may be a real certificate.
      const [present, missing] = certThere ? [certPath, keyPath] : [keyPath, certPath];
      throw new Error(`server.tls: ${missing} is missing but ${present} exists; restore it, or delete both to have selfSigned generate a new pair`);
    }
  }

  const cert = await readPem(certPath, 'server.tls.cert');
  const key = await readPem(keyPath, 'server.tls.key');
  const x509 = parseCertificate(cert, certPath);
  const keyObject = parseKey(key, keyPath);
  if (!x509.checkPrivateKey(keyObject)) {
    throw new Error(`server.tls.key ${keyPath} does not match the certificate ${certPath} (they are not one pair)`);
  }

  const notAfter = new Date(x509.validTo);
  if (notAfter.getTime() <= Date.now()) {
    log.warn(
      { cert: certPath, notAfter: notAfter.toISOString() },
      `TLS certificate ${certPath} expired on ${notAfter.toISOString()}; clients will refuse it until it is renewed`,
    );
  } else if (new Date(x509.validFrom).getTime() > Date.now()) {
    log.warn({ cert: certPath, notBefore: new Date(x509.validFrom).toISOString() }, `TLS certificate ${certPath} is not valid until ${new Date(x509.validFrom).toISOString()}`);
  }
  return { key, cert, fingerprint256: x509.fingerprint256, notAfter, certPath, keyPath, generated };
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    const hint = code === 'ENOENT' && what === 'server.tls.cert' ? ' (set server.tls.selfSigned: true to generate one, or run `ai-relay gen-cert`)' : '';
    throw new Error(`${what}: cannot read ${path}: ${why}${hint}`, { cause: err });
  }
}

function parseCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new Error(`server.tls.cert ${path} is not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
}

function parseKey(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ERR_MISSING_PASSPHRASE' ? 'it is encrypted with a passphrase, which is not supported; decrypt it with `openssl pkey -in KEY -out KEY.plain`' : (err as Error).message;
    throw new Error(`server.tls.key ${path} is not a usable PEM private key: ${why}`, { cause: err });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
