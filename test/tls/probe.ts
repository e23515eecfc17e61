/** TLS handshake probes with bounded waits, for asserting who trusts what. */
import * as tls from 'node:tls';

export type ProbeResult = { ok: true; fingerprint256: string; alpn: string | false } | { ok: false; code: string; error: Error };

export function probeTls(opts: tls.ConnectionOptions & { port: number }, timeoutMs = 5000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', ...opts });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, code: 'TIMEOUT', error: new Error('probe timed out') });
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const fingerprint256 = socket.getPeerCertificate().fingerprint256;
      const alpn = socket.alpnProtocol ?? false;
      socket.end();
      socket.destroy();
      resolve({ ok: true, fingerprint256, alpn });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: false, code: error.code ?? 'UNKNOWN', error });
    });
  });
}
