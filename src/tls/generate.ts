/**
 * Self-signed certificates without openssl on the server: @peculiar/x509 builds the X.509
 * structure in pure JS and signs it with Node's WebCrypto (EC P-256 or RSA 2048).
 */
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { loadX509 } from './x509-loader.js';
import { toSanEntries } from './hosts.js';

export type CertKeyType = 'ec' | 'rsa';

export interface GenerateCertificateOptions {
  /** DNS names and IPv4/IPv6 literals; the first one is also the subject CN. */
  hosts: readonly string[];
  days: number;
  keyType: CertKeyType;
}

export interface GeneratedCertificate {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  /** SHA-256 of the DER certificate, as `AA:BB:…` (what browsers and `openssl x509 -fingerprint` show). */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * macOS/iOS refuse TLS server certificates valid for more than 825 days, even from a root the
 * user trusted by hand (mkcert stays under the same limit). Browsers' 398-day cap applies only to
 * publicly trusted CAs.
 */
export const DEFAULT_CERT_DAYS = 825;
export const MAX_CERT_DAYS = 3650;

/** Backdated so a client whose clock is a little behind still accepts a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

const KEY_ALGORITHMS = {
  ec: { name: 'ECDSA', namedCurve: 'P-256' },
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
} as const;

const SIGNING_ALGORITHMS = {
  ec: { name: 'ECDSA', hash: 'SHA-256' },
  rsa: { name: 'RSASSA-PKCS1-v1_5' },
} as const;

export async function generateCertificate(opts: GenerateCertificateOptions): Promise<GeneratedCertificate> {
  const sans = toSanEntries(opts.hosts);
  const x509 = await loadX509();
  const crypto = webcrypto;
  const keys = (await crypto.subtle.generateKey(KEY_ALGORITHMS[opts.keyType], true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

  // Whole seconds: X.509 times have second precision, so the parsed dates equal these.
  const notBefore = new Date(Math.floor((Date.now() - CLOCK_SKEW_MS) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + opts.days * DAY_MS);

  // A leaf, not a CA: Firefox rejects a CA certificate used as a server certificate, while Node,
  // curl and Chromium accept a self-signed leaf once it is trusted explicitly.
  const usage = opts.keyType === 'rsa'
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(crypto),
      name: [{ CN: [sans[0]!.value] }, { O: ['ai-relay self-signed'] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALGORITHMS[opts.keyType],
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usage, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: s.type, value: s.value }))),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const certPem = cert.toString('pem') + '\n';
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n';
  return { certPem, keyPem, fingerprint256: new NodeX509(certPem).fingerprint256, notBefore, notAfter };
}

/** 16 random bytes with the top bit clear: a positive serial, unique per certificate (RFC 5280 §4.1.2.2). */
function randomSerial(crypto: webcrypto.Crypto): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}
