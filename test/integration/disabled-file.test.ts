/** A TLS file that is not there yet disables its route (503), like an unset variable; --strict refuses. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { startTestRelay } from '../helpers/relay.js';
import { startUpstream } from '../helpers/upstream.js';

const yaml = (up: string) => `
routes:
  - name: gigachat
    prefix: /gigachat
    upstream: https://127.0.0.1:9/api/v1
    auth: none
    tls:
      ca: certs/russian_trusted_root_ca.pem
  - name: other
    prefix: /other
    upstream: ${up}
    auth: none
`;

describe('a route whose TLS file is missing', () => {
  it('answers 503 route_disabled naming the file while other routes serve; health lists it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-nofile-'));
    const up = await startUpstream();
    const relay = await startTestRelay(yaml(up.url), { dir });
    try {
      const r = await fetch(`${relay.url}/gigachat/chat/completions`, { method: 'POST', body: '{}' });
      expect(r.status).toBe(503);
      const e = ((await r.json()) as { error: { type: string; message: string } }).error;
      expect(e.type).toBe('route_disabled');
      expect(e.message).toBe(`route gigachat is disabled: tls.ca ${path.join(dir, 'certs/russian_trusted_root_ca.pem')} not found`);
      expect((await fetch(`${relay.url}/other/x`)).status).toBe(200);
      expect(await (await fetch(`${relay.url}/health`)).json()).toMatchObject({ routes: 1, disabled: ['gigachat'] });
      expect(relay.logs()).toMatch(/route gigachat is disabled: tls\.ca .* not found \(answers 503 route_disabled\)/);
    } finally {
      await relay.close();
      await up.close();
    }
  });

  it('is a startup error with --strict', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-nofile-'));
    const err = await startTestRelay(yaml('http://127.0.0.1:9'), { dir, strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]!.message).toMatch(/route "gigachat": tls\.ca .* not found/);
  });
});
