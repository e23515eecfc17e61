/** Starts a real relay on 127.0.0.1:0 from YAML text, capturing its log lines. */
import { Writable } from 'node:stream';
import { parseConfigText } from '../../src/config/load.js';
import { startRelay, type Relay } from '../../src/relay.js';

export interface TestRelay {
  url: string;
  relay: Relay;
  /** Everything logged so far (JSON lines). */
  logs(): string;
  /** Parsed log lines. */
  lines(): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startTestRelay(
  yamlText: string,
  opts: { env?: Record<string, string | undefined>; dir?: string; logLevel?: string; strict?: boolean } = {},
): Promise<TestRelay> {
  const env = opts.env ?? {};
  const loaded = parseConfigText(yamlText, 'test.yaml', { env, ...(opts.dir ? { dir: opts.dir } : {}), ...(opts.strict ? { strict: true } : {}) });
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const relay = await startRelay(loaded, {
    logDestination: dest,
    host: '127.0.0.1',
    port: 0,
    env,
    logLevel: opts.logLevel ?? 'info',
  });
  return {
    url: relay.url,
    relay,
    logs: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => relay.close(1000),
  };
}

/** The open `/api` route most integration tests put in front of their fake upstream. */
export function openApiRoute(upstream: string): string {
  return `routes:
  - name: api
    prefix: /api
    upstream: ${upstream}
    auth: none
`;
}
