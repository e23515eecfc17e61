/**
 * A relay for budget tests: like test/helpers/relay.ts, plus the library's budget clock seam
 * (StartOptions.budgetClock) so a window can roll over without waiting for midnight.
 */
import { Writable } from 'node:stream';
import { parseConfigText } from '../../src/config/load.js';
import { startRelay } from '../../src/relay.js';
import type { TestRelay } from '../helpers/relay.js';
import { waitFor } from '../helpers/sse.js';

export async function startBudgetRelay(yamlText: string, opts: { clock?: () => number; env?: Record<string, string> } = {}): Promise<TestRelay> {
  const env = opts.env ?? {};
  const loaded = parseConfigText(yamlText, 'test.yaml', { env });
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const relay = await startRelay(loaded, { logDestination: dest, host: '127.0.0.1', port: 0, env, logLevel: 'info', ...(opts.clock ? { budgetClock: opts.clock } : {}) });
  return {
    url: relay.url,
    relay,
    logs: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => relay.close(1000),
  };
}

let seq = 0;

export interface Call {
  status: number;
  headers: Headers;
  text: string;
  id: string;
}

/** POSTs JSON with a relay token and a fresh request id; reads the whole answer. */
export async function call(relayUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Call> {
  const id = `b-${process.pid}-${++seq}`;
  const res = await fetch(relayUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text(), id };
}

/** The access line of request `id` (waits for it: lines are written when the client had the last byte). */
export async function accessLine(relay: TestRelay, id: string): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  await waitFor(() => (line = relay.lines().find((l) => l.req_id === id && typeof l.status === 'number')) !== undefined, 3000, `access line ${id}`);
  return line!;
}

/** GET usagePath with a token. */
export async function usage(relayUrl: string, token: string | undefined, path = '/usage'): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(relayUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Waits until every exchange finished, so settlements ran. */
export async function settled(relay: TestRelay): Promise<void> {
  await waitFor(() => relay.relay.inFlight().size === 0, 3000, 'exchanges to finish');
}
