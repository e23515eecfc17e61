import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { generateCertificate, type GeneratedCertificate } from '../../src/tls/generate.js';
import { hostProblem, toSanEntries } from '../../src/tls/hosts.js';
import { probeTls } from './probe.js';

describe('generateCertificate', () => {
  let ec: GeneratedCertificate;
  let server: https.Server;
  let port: number;

  beforeAll(async () => {
    ec = await generateCertificate({ hosts: ['localhost', '127.0.0.1', '::1', 'relay.example'], days: 30, keyType: 'ec' });
    server = https.createServer({ key: ec.keyPem, cert: ec.certPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('puts DNS names and IP literals into SANs of the right type, CN = first host', () => {
    const cert = new X509Certificate(ec.certPem);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:relay.example');
    expect(cert.subject).toContain('CN=localhost');
    expect(cert.ca).toBe(false);
    expect(cert.issuer).toBe(cert.subject);
  });

  it('is valid for exactly `days`, starting slightly in the past', () => {
    const cert = new X509Certificate(ec.certPem);
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    expect(to - from).toBe(30 * 86_400_000);
    expect(from).toBeLessThanOrEqual(Date.now());
    expect(from).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(ec.notAfter.getTime()).toBe(to);
  });

  it('returns an EC P-256 key that matches the certificate, and the SHA-256 fingerprint', () => {
    const key = createPrivateKey(ec.keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const cert = new X509Certificate(ec.certPem);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(ec.fingerprint256).toBe(cert.fingerprint256);
    expect(ec.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('makes RSA 2048 keys on request', async () => {
    const rsa = await generateCertificate({ hosts: ['localhost'], days: 1, keyType: 'rsa' });
    const key = createPrivateKey(rsa.keyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new X509Certificate(rsa.certPem).checkPrivateKey(key)).toBe(true);
  });

  it('a client trusting only this certificate connects by name and by IP', async () => {
    const byName = await probeTls({ port, servername: 'localhost', ca: ec.certPem });
    expect(byName).toMatchObject({ ok: true, fingerprint256: ec.fingerprint256 });
    const byIp = await probeTls({ port, ca: ec.certPem }); // no SNI: checked against the IP SAN
    expect(byIp).toMatchObject({ ok: true, fingerprint256: ec.fingerprint256 });
  });

  it('a client that does not trust it is refused', async () => {
    const res = await probeTls({ port, servername: 'localhost' });
    expect(res).toMatchObject({ ok: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('a name outside the SANs is refused even when trusted', async () => {
    const res = await probeTls({ port, servername: 'other.example', ca: ec.certPem });
    expect(res).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('gives each certificate its own serial number', async () => {
    const again = await generateCertificate({ hosts: ['localhost'], days: 1, keyType: 'ec' });
    expect(new X509Certificate(again.certPem).serialNumber).not.toBe(new X509Certificate(ec.certPem).serialNumber);
  });
});

describe('certificate host names', () => {
  it.each([
    ['', 'empty'],
    ['bad_host', 'underscore'],
    ['https://example.com', 'URL'],
    ['example.com:8443', 'port'],
    ['-lead.example', 'start or end'],
    ['a..b', 'empty label'],
    ['foo.*.example', 'wildcard'],
    ['*.com', 'at least two labels'],
    ['10.0.0.256', 'IP address'],
    ['1.2.3', 'IP address'],
    ['fe80::1%eth0', 'zone'],
    ['has space.example', 'whitespace'],
    [`${'a'.repeat(64)}.example`, '63'],
  ])('refuses %j with the reason (%s)', (host, reason) => {
    let caught: unknown;
    try {
      toSanEntries([host]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as Error).message).toContain(JSON.stringify(host));
    expect((caught as Error).message.toLowerCase()).toContain(reason.toLowerCase());
  });

  it('accepts wildcards, bracketed IPv6, IDNs and a trailing dot, deduplicating', () => {
    expect(toSanEntries(['*.dev.example', '[::1]', 'пример.рф', 'Relay.Example.', 'relay.example', '::1'])).toEqual([
      { type: 'dns', value: '*.dev.example' },
      { type: 'ip', value: '::1' },
      { type: 'dns', value: 'xn--e1afmkfd.xn--p1ai' },
      { type: 'dns', value: 'relay.example' },
    ]);
    expect(hostProblem('localhost')).toBeUndefined();
  });
});
