/**
 * A fake JWT issuer for the tests: key pairs made with jose, a JWKS served by node:http on
 * 127.0.0.1:0 (every fetch counted; it can fail, hang, rotate keys), and a signer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface IssuerKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export interface FakeIssuer {
  url: string;
  jwksUrl: string;
  /** JWKS fetches received so far. */
  fetches: number;
  /** `up`: serve the keys; `error`: answer 503; `hang`: never answer. */
  mode: 'up' | 'error' | 'hang';
  /** Keys published in the JWKS (the first one signs by default). */
  keys: IssuerKey[];
  addKey(alg?: 'RS256' | 'ES256', kid?: string): Promise<IssuerKey>;
  sign(payload: JWTPayload, opts?: { key?: IssuerKey; kid?: string | null; alg?: string }): Promise<string>;
  spki(key?: IssuerKey): Promise<string>;
  close(): Promise<void>;
}

export async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export async function startIssuer(opts: { mode?: FakeIssuer['mode']; kid?: string } = {}): Promise<FakeIssuer> {
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.url !== '/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    issuer.fetches++;
    if (issuer.mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (issuer.mode === 'error') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: issuer.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const first = await makeKey('RS256', opts.kid ?? 'k1');
  const issuer: FakeIssuer = {
    url: `http://127.0.0.1:${port}`,
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    fetches: 0,
    mode: opts.mode ?? 'up',
    keys: [first],
    async addKey(alg = 'RS256', kid = `k${issuer.keys.length + 1}`) {
      const k = await makeKey(alg, kid);
      issuer.keys.push(k);
      return k;
    },
    async sign(payload, o = {}) {
      const key = o.key ?? issuer.keys[0]!;
      const kid = o.kid === null ? undefined : (o.kid ?? key.kid);
      return new SignJWT(payload).setProtectedHeader({ alg: o.alg ?? key.alg, ...(kid ? { kid } : {}) }).sign(key.privateKey);
    },
    spki: (key) => exportSPKI((key ?? issuer.keys[0]!).publicKey),
    close: () =>
      new Promise<void>((r) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return issuer;
}

/** Seconds since the epoch, for exp/nbf/iat. */
export const now = (): number => Math.floor(Date.now() / 1000);

/** An unsigned token (`alg: none`), hand-made: jose refuses to produce one. */
export function unsignedToken(payload: JWTPayload): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}
