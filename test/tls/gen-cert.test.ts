/**
 * `ai-relay gen-cert` (spec §2) as users run it: bin/ai-relay.js after `npm run build`, in a
 * child process. (It used to call the command's code in-process, from the sources, which is how a
 * gen-cert broken in the shipped bundle went unseen: issue #15.)
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from './pki.js';

let dir: string;
let cleanup: () => Promise<void>;
let stdout: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  stdout = '';
});
afterEach(async () => {
  await cleanup();
});

/** Runs gen-cert; resolves to undefined on exit 0, else to { code, message } (stderr). */
async function run(args: string[]): Promise<{ code: number | null; message: string } | undefined> {
  const r = await runCli(['gen-cert', ...args], { cwd: dir });
  stdout = r.stdout;
  return r.code === 0 ? undefined : { code: r.code, message: r.stderr };
}

describe('ai-relay gen-cert', () => {
  it('writes cert.pem and key.pem with the defaults and prints fingerprint and trust recipes', async () => {
    const out = join(dir, 'certs');
    expect(await run(['--out', out])).toBeUndefined();
    const certPem = await readFile(join(out, 'cert.pem'), 'utf8');
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(825 * 86_400_000);
    expect((await stat(join(out, 'key.pem'))).mode & 0o777).toBe(0o600);
    expect(createPrivateKey(await readFile(join(out, 'key.pem'))).asymmetricKeyType).toBe('ec');

    expect(stdout).toContain(cert.fingerprint256);
    expect(stdout).toContain(`curl --cacert ${join(out, 'cert.pem')}`);
    expect(stdout).toContain(`NODE_EXTRA_CA_CERTS=${join(out, 'cert.pem')}`);
    expect(stdout).toContain('update-ca-certificates');
    expect(stdout).toMatch(/Browser/);
  });

  it('takes repeated --host, --days and --key-type', async () => {
    const err = await run(['--out', dir, '--host', 'relay.example', '--host', '203.0.113.7', '--host', '2001:db8::1', '--days', '30', '--key-type', 'rsa']);
    expect(err).toBeUndefined();
    const cert = new X509Certificate(await readFile(join(dir, 'cert.pem')));
    expect(cert.subjectAltName).toBe('DNS:relay.example, IP Address:203.0.113.7, IP Address:2001:DB8:0:0:0:0:0:1');
    expect(cert.subject).toContain('CN=relay.example');
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(30 * 86_400_000);
    expect(createPrivateKey(await readFile(join(dir, 'key.pem'))).asymmetricKeyType).toBe('rsa');
    expect(stdout).toContain('https://relay.example:8787/health');
  });

  it('refuses to overwrite without --force (exit 1) and overwrites with it', async () => {
    expect(await run(['--out', dir])).toBeUndefined();
    const first = await readFile(join(dir, 'cert.pem'), 'utf8');
    const refused = await run(['--out', dir]);
    expect(refused?.code).toBe(1);
    expect(refused?.message).toContain('--force');
    expect(await readFile(join(dir, 'cert.pem'), 'utf8')).toBe(first);

    expect(await run(['--out', dir, '--force'])).toBeUndefined();
    expect(await readFile(join(dir, 'cert.pem'), 'utf8')).not.toBe(first);
  });

  it.each([
    [['--host', 'bad_host'], 'bad_host'],
    [['--host', 'localhost', '--host', 'http://x.example'], 'URL'],
    [['--days', '0'], '--days'],
    [['--days', 'ten'], '--days'],
    [['--days', '99999'], '--days'],
    [['--key-type', 'dsa'], '--key-type'],
  ])('bad usage %j exits 2 with the reason and writes nothing', async (args, words) => {
    const err = await run(['--out', dir, ...args]);
    expect(err?.code).toBe(2);
    expect(err?.message).toContain(words);
    expect(await readdir(dir)).toEqual([]);
  });
});
