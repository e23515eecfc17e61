/**
 * A tiny test PKI built with @peculiar/x509: a CA, leaves signed by it, and certificates with
 * chosen validity (expired ones cannot come from generateCertificate).
 */
import { webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { loadX509 } from '../../src/tls/x509-loader.js';

export interface TestCert {
  certPem: string;
  keyPem: string;
  /** For signing further certificates. */
  privateKey: webcrypto.CryptoKey;
  cert: X509.X509Certificate;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function toTestCert(x509: typeof X509, cert: X509.X509Certificate, keys: webcrypto.CryptoKeyPair): Promise<TestCert> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n', privateKey: keys.privateKey, cert };
}

export async function makeCa(name = 'ai-relay test CA'): Promise<TestCert> {
  const x509 = await loadX509();
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [name] }],
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return toTestCert(x509, cert, keys);
}

export interface LeafOptions {
  dns?: string[];
  ips?: string[];
  notBefore?: Date;
  notAfter?: Date;
  usage?: 'server' | 'client';
}

/** A leaf signed by `ca`, or self-signed when `ca` is undefined. */
export async function makeLeaf(ca: TestCert | undefined, opts: LeafOptions = {}): Promise<TestCert> {
  const x509 = await loadX509();
  const keys = await keyPair();
  const names = [
    ...(opts.dns ?? ['localhost']).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? ['127.0.0.1']).map((value) => ({ type: 'ip' as const, value })),
  ];
  const subject = [{ CN: [names[0]?.value ?? 'leaf'] }];
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.ExtendedKeyUsageExtension([opts.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(names),
  ];
  const validity = { notBefore: opts.notBefore ?? new Date(Date.now() - DAY), notAfter: opts.notAfter ?? new Date(Date.now() + 10 * DAY) };
  const cert = ca
    ? await x509.X509CertificateGenerator.create(
        { subject, issuer: ca.cert.subject, ...validity, publicKey: keys.publicKey, signingKey: ca.privateKey, signingAlgorithm: ALG, extensions },
        webcrypto,
      )
    : await x509.X509CertificateGenerator.createSelfSigned({ name: subject, ...validity, keys, signingAlgorithm: ALG, extensions }, webcrypto);
  return toTestCert(x509, cert, keys);
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ai-relay-tls-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
}
