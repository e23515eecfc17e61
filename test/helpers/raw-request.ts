/**
 * A raw HTTP/1.1 client over node:net. fetch/undici normalise paths and refuse hop-by-hop headers
 * (Connection, Keep-Alive, TE, Upgrade…), so path-escape and hop-by-hop tests write exact bytes.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** All header lines (lowercased names) in order, for repeated headers. */
  rawHeaders: [string, string][];
  body: Buffer;
  /** Everything the relay wrote, unparsed. */
  raw: Buffer;
}

export interface RawOptions {
  method?: string;
  headers?: Record<string, string> | [string, string][];
  body?: string | Buffer;
  /** Bytes written verbatim instead of building a request (path/headers/body ignored). */
  bytes?: string | Buffer;
  timeoutMs?: number;
}

/** Sends one request on a fresh connection (`Connection: close` unless given) and parses the answer. */
export function rawRequest(baseUrl: string, target: string, opts: RawOptions = {}): Promise<RawResponse> {
  const u = new URL(baseUrl);
  let bytes: Buffer;
  if (opts.bytes !== undefined) bytes = Buffer.from(opts.bytes);
  else {
    const hs: [string, string][] = Array.isArray(opts.headers) ? opts.headers : Object.entries(opts.headers ?? {});
    const names = new Set(hs.map(([k]) => k.toLowerCase()));
    const lines = [`${opts.method ?? 'GET'} ${target} HTTP/1.1`];
    if (!names.has('host')) lines.push(`Host: ${u.host}`);
    for (const [k, v] of hs) lines.push(`${k}: ${v}`);
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    if (body && !names.has('content-length') && !names.has('transfer-encoding')) lines.push(`Content-Length: ${body.length}`);
    if (!names.has('connection')) lines.push('Connection: close');
    bytes = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
  }
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`raw request to ${target} timed out; got: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
    }, opts.timeoutMs ?? 5000);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      // Stop once a complete response arrived (keep-alive connections stay open otherwise).
      const parsed = tryParse(Buffer.concat(chunks));
      if (parsed) {
        clearTimeout(timer);
        sock.destroy();
        resolve(parsed);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      const parsed = tryParse(Buffer.concat(chunks), true);
      if (parsed) resolve(parsed);
      else reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const parsed = tryParse(Buffer.concat(chunks), true);
      if (parsed) resolve(parsed);
      else reject(new Error(`connection closed without a complete response: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
    });
  });
}

/** Parses a complete HTTP/1.1 response (Content-Length, chunked, or until close when `eof`). */
export function tryParse(buf: Buffer, eof = false): RawResponse | undefined {
  let start = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', start);
    if (headEnd === -1) return undefined;
    const head = buf.subarray(start, headEnd).toString('latin1').split('\r\n');
    const status = Number(head[0]!.split(' ')[1]);
    const rawHeaders: [string, string][] = head.slice(1).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of rawHeaders) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    const bodyStart = headEnd + 4;
    // Skip interim 1xx responses (100 Continue).
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const finish = (body: Buffer) => ({ status, headers, rawHeaders, body, raw: buf });
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      return buf.length - bodyStart >= n ? finish(buf.subarray(bodyStart, bodyStart + n)) : undefined;
    }
    if (headers['transfer-encoding']?.includes('chunked')) {
      const parts: Buffer[] = [];
      let i = bodyStart;
      for (;;) {
        const le = buf.indexOf('\r\n', i);
        if (le === -1) return undefined;
        const size = parseInt(buf.subarray(i, le).toString('latin1'), 16);
        if (size === 0) return finish(Buffer.concat(parts));
        if (buf.length < le + 2 + size + 2) return undefined;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        i = le + 2 + size + 2;
      }
    }
    if (status === 204 || status === 304) return finish(Buffer.alloc(0));
    return eof ? finish(buf.subarray(bodyStart)) : undefined;
  }
}
