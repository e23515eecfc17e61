/** Starting a forward proxy with a log we can read, curl through it, and a raw CONNECT client. */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { forwardProxySchema, type ForwardProxyConfig } from '../../src/config/schema.js';
import { startForwardProxy, type ForwardProxyOptions } from '../../src/forward-proxy/index.js';

export async function startTestForwardProxy(cfg: Partial<Record<keyof ForwardProxyConfig, unknown>>, opts: Partial<ForwardProxyOptions> = {}) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const redactor = new Redactor();
  const log = createLogger({ level: 'info', format: 'json', redactor, destination });
  const parsed = forwardProxySchema.parse({ port: 0, host: '127.0.0.1', ...cfg });
  const proxy = await startForwardProxy(parsed, { log, redactor, ...opts });
  return {
    ...proxy,
    logs: () => lines.join('\n'),
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.kind !== undefined),
  };
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function curl(args: string[], timeoutMs = 8000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', String(timeoutMs / 1000 - 1), ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Sends a raw CONNECT and returns the proxy's answer head (and the socket, still open on 200). */
export function rawConnect(proxyPort: number, target: string, headers: Record<string, string> = {}): Promise<{ head: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to CONNECT within 5 s'));
    }, 5000);
    let buf = '';
    socket.on('error', reject);
    socket.on('data', function onData(chunk: Buffer) {
      buf += chunk.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      resolve({ head: buf.slice(0, end), socket });
    });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extra}\r\n`);
  });
}

export const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** Resolves when `socket` closes, or rejects after `ms`. */
export function closedWithin(socket: net.Socket, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}
