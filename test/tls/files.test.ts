import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { loadServerTls, writeCertificatePair, type ServerTlsConfig } from '../../src/tls/files.js';
import { generateCertificate } from '../../src/tls/generate.js';
import { makeLeaf, tempDir, writeFiles } from './pki.js';

function collectingLogger(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = pino({ level: 'debug', base: null, formatters: { level: (label) => ({ level: label }) } }, stream);
  return { log, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function tlsCfg(over: Partial<ServerTlsConfig> = {}): ServerTlsConfig {
  return { cert: 'certs/cert.pem', key: 'certs/key.pem', selfSigned: false, hosts: ['localhost', '127.0.0.1', '::1'], http2: true, ...over };
}

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

describe('writeCertificatePair', () => {
  it('creates directories, writes the key with mode 0600, and refuses to overwrite without force', async () => {
    const a = await generateCertificate({ hosts: ['localhost'], days: 1, keyType: 'ec' });
    const certPath = join(dir, 'deep/certs/cert.pem');
    const keyPath = join(dir, 'deep/keys/key.pem');
    await writeCertificatePair({ certPath, keyPath, certPem: a.certPem, keyPem: a.keyPem, force: false });
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(certPath)).mode & 0o777).toBe(0o644);
    expect(await readFile(certPath, 'utf8')).toBe(a.certPem);

    const b = await generateCertificate({ hosts: ['localhost'], days: 1, keyType: 'ec' });
    const refused = await writeCertificatePair({ certPath, keyPath, certPem: b.certPem, keyPem: b.keyPem, force: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CliError);
    expect((refused as CliError).exitCode).toBe(1);
    expect((refused as Error).message).toContain('--force');
    expect(await readFile(certPath, 'utf8')).toBe(a.certPem);

    await chmod(keyPath, 0o644); // force must also tighten a key file someone loosened
    await writeCertificatePair({ certPath, keyPath, certPem: b.certPem, keyPem: b.keyPem, force: true });
    expect(await readFile(keyPath, 'utf8')).toBe(b.keyPem);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
  });
});

describe('loadServerTls', () => {
  it('selfSigned with missing files generates the pair for tls.hosts and logs the fingerprint', async () => {
    const { log, lines } = collectingLogger();
    const m = await loadServerTls(tlsCfg({ selfSigned: true, hosts: ['relay.test', '10.1.2.3'] }), dir, log);
    expect(m.generated).toBe(true);
    const cert = new X509Certificate(await readFile(join(dir, 'certs/cert.pem')));
    expect(cert.subjectAltName).toBe('DNS:relay.test, IP Address:10.1.2.3');
    expect(cert.fingerprint256).toBe(m.fingerprint256);
    expect((await stat(join(dir, 'certs/key.pem'))).mode & 0o777).toBe(0o600);
    const info = lines().find((l) => l['fingerprint256'] === m.fingerprint256);
    expect(info?.['level']).toBe('info');
    expect(String(info?.['msg'])).toContain(m.fingerprint256);

    // The second start loads the same pair instead of generating another.
    const again = await loadServerTls(tlsCfg({ selfSigned: true }), dir, log);
    expect(again.generated).toBe(false);
    expect(again.fingerprint256).toBe(m.fingerprint256);
    expect(again.key).toBe(m.key);
  });

  it('missing files without selfSigned: an error naming the file', async () => {
    const { log } = collectingLogger();
    const err = await loadServerTls(tlsCfg(), dir, log).then(() => new Error('expected a rejection'), (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(join(dir, 'certs/cert.pem'));
    expect(err.message).toContain('file not found');
    expect(err.message).toContain('selfSigned');
  });

  // root reads mode-000 files anyway, so this can only be observed as an ordinary user
  it.skipIf(process.getuid?.() === 0)('an unreadable key file: an error naming it', async () => {
    const leaf = await makeLeaf(undefined);
    await mkdir(join(dir, 'certs'));
    await writeFiles(join(dir, 'certs'), { 'cert.pem': leaf.certPem, 'key.pem': leaf.keyPem });
    await chmod(join(dir, 'certs/key.pem'), 0);
    const err = await loadServerTls(tlsCfg(), dir, collectingLogger().log).then(() => new Error('expected a rejection'), (e: unknown) => e as Error);
    expect(err.message).toContain(join(dir, 'certs/key.pem'));
    expect(err.message).toContain('permission denied');
  });

  it('selfSigned never overwrites half of an existing pair', async () => {
    const leaf = await makeLeaf(undefined);
    await mkdir(join(dir, 'certs'));
    await writeFiles(join(dir, 'certs'), { 'cert.pem': leaf.certPem });
    const err = await loadServerTls(tlsCfg({ selfSigned: true }), dir, collectingLogger().log).then(() => new Error('expected a rejection'), (e: unknown) => e as Error);
    expect(err.message).toContain(join(dir, 'certs/key.pem'));
    expect(await readFile(join(dir, 'certs/cert.pem'), 'utf8')).toBe(leaf.certPem);
  });

  it('a key that does not belong to the certificate: an error naming both', async () => {
    const a = await makeLeaf(undefined);
    const b = await makeLeaf(undefined);
    await mkdir(join(dir, 'certs'));
    await writeFiles(join(dir, 'certs'), { 'cert.pem': a.certPem, 'key.pem': b.keyPem });
    const err = await loadServerTls(tlsCfg(), dir, collectingLogger().log).then(() => new Error('expected a rejection'), (e: unknown) => e as Error);
    expect(err.message).toContain('does not match');
    expect(err.message).toContain(join(dir, 'certs/key.pem'));
    expect(err.message).toContain(join(dir, 'certs/cert.pem'));
  });

  it('files that are not PEM: errors naming the file', async () => {
    const a = await makeLeaf(undefined);
    await mkdir(join(dir, 'certs'));
    await writeFiles(join(dir, 'certs'), { 'cert.pem': 'hello', 'key.pem': a.keyPem });
    const certErr = await loadServerTls(tlsCfg(), dir, collectingLogger().log).then(() => new Error('expected a rejection'), (e: unknown) => e as Error);
    expect(certErr.message).toMatch(/server\.tls\.cert .*cert\.pem is not a PEM certificate/);
    await writeFiles(join(dir, 'certs'), { 'cert.pem': a.certPem, 'key.pem': 'nope' });
    const keyErr = await loadServerTls(tlsCfg(), dir, collectingLogger().log).then(() => new Error('expected a rejection'), (e: unknown) => e as Error);
    expect(keyErr.message).toMatch(/server\.tls\.key .*key\.pem is not a usable PEM private key/);
  });

  it('an expired certificate loads with a warning that gives the date', async () => {
    const notAfter = new Date(Math.floor((Date.now() - 3 * 86_400_000) / 1000) * 1000);
    const old = await makeLeaf(undefined, { notBefore: new Date(Date.now() - 30 * 86_400_000), notAfter });
    await writeFile(join(dir, 'c.pem'), old.certPem);
    await writeFile(join(dir, 'k.pem'), old.keyPem);
    const { log, lines } = collectingLogger();
    const m = await loadServerTls(tlsCfg({ cert: 'c.pem', key: 'k.pem' }), dir, log);
    expect(m.notAfter.getTime()).toBe(notAfter.getTime());
    const warn = lines().find((l) => l['level'] === 'warn');
    expect(String(warn?.['msg'])).toContain(`expired on ${notAfter.toISOString()}`);
    expect(String(warn?.['msg'])).toContain(join(dir, 'c.pem'));
  });

  it('a valid certificate loads without warnings', async () => {
    const ok = await makeLeaf(undefined);
    await writeFiles(dir, { 'c.pem': ok.certPem, 'k.pem': ok.keyPem });
    const { log, lines } = collectingLogger();
    await loadServerTls(tlsCfg({ cert: 'c.pem', key: 'k.pem' }), dir, log);
    expect(lines().filter((l) => l['level'] === 'warn')).toEqual([]);
  });
});
