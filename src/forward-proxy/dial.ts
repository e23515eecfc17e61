/**
 * Resolving and dialling a forward-proxy target. With `denyPrivateNetworks` the name is resolved
 * here, every address it yields is checked, and the socket is opened to those checked addresses
 * only — never to the name — so a DNS answer that changes between check and connect (DNS
 * rebinding) cannot slip a private address through.
 */
import net from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isPrivateAddress } from './private-net.js';

export type Lookup = (host: string) => Promise<string[]>;

export const systemLookup: Lookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

export class TargetRefused extends Error {
  constructor(readonly address: string) {
    super(`target resolves to a private or reserved address (${address})`);
  }
}

/** The addresses to dial, all checked; throws TargetRefused when any of them is private. */
export async function resolveTarget(host: string, denyPrivate: boolean, lookup: Lookup = systemLookup): Promise<string[]> {
  const addresses = net.isIP(host) ? [host] : await lookup(host);
  if (addresses.length === 0) throw Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
  if (denyPrivate) {
    // ANY private answer refuses the target: a name that also points inside is not a public API.
    const bad = addresses.find(isPrivateAddress);
    if (bad !== undefined) throw new TargetRefused(bad);
  }
  return addresses;
}

/** Connects to the first address that accepts, trying each in order within `timeoutMs` overall. */
export function dial(addresses: string[], port: number, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let i = 0;
    let current: net.Socket | undefined;
    let lastErr: Error | undefined;
    let done = false;
    const timer = setTimeout(() => finish(Object.assign(new Error(`connect timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    const onAbort = () => finish(Object.assign(new Error('forward proxy closing'), { code: 'ECONNABORTED' }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: Error | undefined, sock?: net.Socket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        current?.destroy();
        reject(err);
      } else resolve(sock!);
    };
    const next = () => {
      const address = addresses[i++];
      if (address === undefined) return finish(lastErr ?? new Error('no address to connect to'));
      const sock = net.connect({ host: address, port });
      current = sock;
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        sock.setNoDelay(true);
        finish(undefined, sock);
      });
      sock.once('error', (err) => {
        lastErr = err;
        sock.destroy();
        if (!done && current === sock) next();
      });
    };
    if (signal?.aborted) return onAbort();
    next();
  });
}
