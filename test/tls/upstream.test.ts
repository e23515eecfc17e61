import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUpstreamTls, caBundle, explainTlsError, upstreamTlsWarnings } from '../../src/tls/upstream.js';
import { makeCa, makeLeaf, tempDir, writeFiles, type TestCert } from './pki.js';

type Outcome = { ok: true; body: string } | { ok: false; err: NodeJS.ErrnoException };

/** One GET through node:https with the options the relay would hand to undici's `connect`. */
function get(port: number, tlsOpts: ConnectionOptions, servername = 'localhost'): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/', servername, agent: false, ...tlsOpts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ok: true, body }));
    });
    req.setTimeout(5000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, err }));
    req.end();
  });
}

async function serve(opts: https.ServerOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const server = https.createServer(opts, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(peer && peer.subject ? `client ${peer.subject.CN}` : 'hello');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let ca: TestCert;
let otherCa: TestCert;
let dir: string;
let cleanup: () => Promise<void>;
let upstream: { port: number; close: () => Promise<void> };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  ca = await makeCa('Test Root CA');
  otherCa = await makeCa('Other Root CA');
  const leaf = await makeLeaf(ca, { dns: ['localhost', 'upstream.test'] });
  await writeFiles(dir, { 'ca.pem': ca.certPem, 'other-ca.pem': otherCa.certPem, 'bundle.pem': otherCa.certPem + ca.certPem, 'junk.pem': 'not a cert\n' });
  upstream = await serve({ key: leaf.keyPem, cert: leaf.certPem });
});
afterAll(async () => {
  await upstream?.close();
  await cleanup?.();
});

describe('buildUpstreamTls', () => {
  it('an upstream signed by a private CA fails without tls.ca, with a hint that names tls.ca', async () => {
    const res = await get(upstream.port, buildUpstreamTls(undefined, dir));
    expect(res.ok).toBe(false);
    const err = (res as { err: NodeJS.ErrnoException }).err;
    expect(err.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE'); // the server sends its leaf only
    expect(explainTlsError(err)).toContain("route's tls.ca");
  });

  it('succeeds once the CA is added (relative to the config dir), bundles included', async () => {
    expect(await get(upstream.port, buildUpstreamTls({ ca: 'ca.pem', insecure: false }, dir))).toEqual({ ok: true, body: 'hello' });
    expect(await get(upstream.port, buildUpstreamTls({ ca: 'bundle.pem', insecure: false }, dir))).toEqual({ ok: true, body: 'hello' });
    const wrong = await get(upstream.port, buildUpstreamTls({ ca: 'other-ca.pem', insecure: false }, dir));
    expect(wrong.ok).toBe(false);
  });

  it('adds to the default roots instead of replacing them', () => {
    // A SecureContext cannot be listed, so check the bundle the context is built from.
    const bundle = caBundle([ca.certPem]);
    expect(bundle.slice(0, rootCertificates.length)).toEqual(rootCertificates);
    expect(bundle[bundle.length - 1]).toBe(ca.certPem);
    const opts = buildUpstreamTls({ ca: 'ca.pem', insecure: false }, dir);
    expect(opts.secureContext).toBeDefined();
    expect(opts.ca).toBeUndefined(); // never a bare `ca`, which would replace the public roots
  });

  it('keeps NODE_EXTRA_CA_CERTS trusted on a route with its own ca', async () => {
    const saved = process.env['NODE_EXTRA_CA_CERTS'];
    const otherLeaf = await makeLeaf(otherCa);
    const other = await serve({ key: otherLeaf.keyPem, cert: otherLeaf.certPem });
    try {
      process.env['NODE_EXTRA_CA_CERTS'] = `${dir}/other-ca.pem`;
      const opts = buildUpstreamTls({ ca: 'ca.pem', insecure: false }, dir);
      expect(await get(other.port, opts)).toEqual({ ok: true, body: 'hello' });
      expect(await get(upstream.port, opts)).toEqual({ ok: true, body: 'hello' });
    } finally {
      if (saved === undefined) delete process.env['NODE_EXTRA_CA_CERTS'];
      else process.env['NODE_EXTRA_CA_CERTS'] = saved;
      await other.close();
    }
  });

  it('insecure skips verification and is warned about', async () => {
    expect(await get(upstream.port, buildUpstreamTls({ insecure: true }, dir))).toEqual({ ok: true, body: 'hello' });
    expect(upstreamTlsWarnings('gigachat', { insecure: true })[0]).toMatch(/route gigachat: tls\.insecure .*NOT verified/);
    expect(upstreamTlsWarnings('gigachat', { insecure: false })).toEqual([]);
    expect(upstreamTlsWarnings('gigachat', undefined)).toEqual([]);
  });

  it('servername picks the name the certificate is checked against', async () => {
    const mismatch = await get(upstream.port, buildUpstreamTls({ ca: 'ca.pem', insecure: false }, dir), 'api.example');
    expect(mismatch.ok).toBe(false);
    const err = (mismatch as { err: NodeJS.ErrnoException }).err;
    expect(err.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(explainTlsError(err)).toContain('tls.servername');
    // https.request derives SNI from `servername` unless the connection options carry their own.
    const fixed = buildUpstreamTls({ ca: 'ca.pem', insecure: false, servername: 'upstream.test' }, dir);
    expect(fixed.servername).toBe('upstream.test');
    expect(await get(upstream.port, fixed, fixed.servername)).toEqual({ ok: true, body: 'hello' });
  });

  it('presents a client certificate for mutual TLS', async () => {
    const clientCa = await makeCa('Client CA');
    const client = await makeLeaf(clientCa, { dns: ['relay-client'], ips: [], usage: 'client' });
    const serverLeaf = await makeLeaf(ca);
    const mtls = await serve({ key: serverLeaf.keyPem, cert: serverLeaf.certPem, ca: clientCa.certPem, requestCert: true, rejectUnauthorized: true });
    await writeFiles(dir, { 'client.pem': client.certPem, 'client-key.pem': client.keyPem });
    try {
      const without = await get(mtls.port, buildUpstreamTls({ ca: 'ca.pem', insecure: false }, dir));
      expect(without.ok).toBe(false);
      expect(explainTlsError((without as { err: Error }).err) ?? '').toMatch(/client certificate|handshake/);
      const withCert = await get(mtls.port, buildUpstreamTls({ ca: 'ca.pem', insecure: false, cert: 'client.pem', key: 'client-key.pem' }, dir));
      expect(withCert).toEqual({ ok: true, body: 'client relay-client' });
    } finally {
      await mtls.close();
    }
  });

  it('reports file problems naming the file', async () => {
    expect(() => buildUpstreamTls({ ca: 'missing.pem', insecure: false }, dir)).toThrow(`tls.ca: cannot read ${dir}/missing.pem: file not found`);
    expect(() => buildUpstreamTls({ ca: 'junk.pem', insecure: false }, dir)).toThrow(`tls.ca ${dir}/junk.pem contains no PEM certificate`);
    expect(() => buildUpstreamTls({ insecure: false, cert: 'ca.pem' }, dir)).toThrow('tls.key is missing');
    const stray = await makeLeaf(undefined);
    await writeFiles(dir, { 'stray-key.pem': stray.keyPem });
    expect(() => buildUpstreamTls({ insecure: false, cert: 'ca.pem', key: 'stray-key.pem' }, dir)).toThrow(`tls.key ${dir}/stray-key.pem does not match`);
  });

  it('an expired upstream certificate is explained', async () => {
    const old = await makeLeaf(ca, { notBefore: new Date(Date.now() - 20 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const expired = await serve({ key: old.keyPem, cert: old.certPem });
    try {
      const res = await get(expired.port, buildUpstreamTls({ ca: 'ca.pem', insecure: false }, dir));
      const err = (res as { err: NodeJS.ErrnoException }).err;
      expect(err.code).toBe('CERT_HAS_EXPIRED');
      expect(explainTlsError(err)).toContain('expired');
    } finally {
      await expired.close();
    }
  });
});

describe('explainTlsError', () => {
  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', "tls.ca"],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls.ca'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls.ca'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'Russian Trusted Root CA'],
    ['CERT_HAS_EXPIRED', 'expired'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'http://'],
    ['ERR_SSL_SOMETHING_NEW', 'ERR_SSL_SOMETHING_NEW'],
  ])('%s → %s', (code, words) => {
    expect(explainTlsError(Object.assign(new Error('x'), { code }))).toContain(words);
  });

  it('looks through cause chains (undici and fetch wrap socket errors)', () => {
    const inner = Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(explainTlsError(new TypeError('fetch failed', { cause: inner }))).toContain('self-signed');
  });

  it('says nothing about errors that are not TLS failures', () => {
    expect(explainTlsError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(explainTlsError(undefined)).toBeUndefined();
    expect(explainTlsError('string')).toBeUndefined();
  });
});
