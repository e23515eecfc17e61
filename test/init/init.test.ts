/**
 * `ai-relay init`: every preset writes a config that the loader accepts with the .env.example
 * values (all routes enabled, none disabled for a missing variable), and nothing is overwritten.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { loadConfig } from '../../src/index.js';
import { ConfigError } from '../../src/errors.js';
import { PRESET_NAMES, renderPreset } from '../../src/presets/index.js';
import { PresetExistsError, writePreset } from '../../src/presets/write.js';
import { runCli } from '../helpers/cli.js';
import { compileTable } from '../../src/routing/compile.js';
import { PoolRegistry } from '../../src/upstream/dispatcher.js';
import { silentLogger } from '../../src/log/logger.js';
import { generateCertificate } from '../../src/tls/generate.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-relay-init-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function envExample(dir: string): Record<string, string> {
  return parseEnv(fs.readFileSync(path.join(dir, '.env.example'), 'utf8')) as Record<string, string>;
}

function load(dir: string) {
  try {
    return loadConfig(path.join(dir, 'proxy.config.yaml'), { env: envExample(dir), strict: true });
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(JSON.stringify(err.issues, null, 2));
    throw err;
  }
}

const EXPECTED_ROUTES: Record<string, string[]> = {
  openai: ['openai'],
  gemini: ['gemini'],
  gigachat: ['gigachat'],
  fusionbrain: ['fusionbrain'],
  all: ['openai', 'gemini', 'gigachat', 'fusionbrain'],
};

describe('init presets', () => {
  for (const preset of PRESET_NAMES) {
    it(`${preset}: loads with the .env.example values, every variable set, every route behind the web token`, () => {
      const dir = tmpDir();
      writePreset(dir, preset);
      const loaded = load(dir);
      expect(loaded.missing).toEqual([]);
      const { config } = loaded;
      expect(config.routes.map((r) => r.name)).toEqual(EXPECTED_ROUTES[preset]);
      expect(config.clients).toEqual({ web: envExample(dir).PROXY_TOKEN });
      for (const r of config.routes) {
        expect(r.auth).toEqual(['web']);
        expect(r.cors?.origins).toEqual(['https://my-site.example']);
      }
      // The secrets came from variables and are known to the redactor.
      expect(loaded.secretValues).toContain(envExample(dir).PROXY_TOKEN);
    });
  }

  it('uses the spec key names for each provider', () => {
    const dir = tmpDir();
    writePreset(dir, 'all');
    const env = envExample(dir);
    const routes = Object.fromEntries(load(dir).config.routes.map((r) => [r.name, r]));
    expect(routes.openai!.headers.set).toEqual({ Authorization: `Bearer ${env.OPENAI_API_KEY}` });
    expect(routes.gemini!.headers.set).toEqual({ 'x-goog-api-key': env.GEMINI_API_KEY });
    expect(routes.gigachat!.oauth).toMatchObject({
      type: 'gigachat',
      tokenUrl: 'https://ngw.devices.sberbank.ru:9443/api/v2/oauth',
      authorizationKey: env.GIGACHAT_AUTH_KEY,
      scope: 'GIGACHAT_API_PERS',
    });
    expect(routes.gigachat!.tls?.ca).toBe('certs/russian_trusted_root_ca.pem');
    expect(routes.fusionbrain!.headers.set).toEqual({ 'X-Key': `Key ${env.FUSIONBRAIN_KEY}`, 'X-Secret': `Secret ${env.FUSIONBRAIN_SECRET}` });
    expect(routes.fusionbrain!.transforms).toEqual([{ 'png-to-jpeg': expect.objectContaining({ quality: 95 }) }]);
  });

  it('a missing key disables only its route (fail closed), the config still loads', () => {
    const dir = tmpDir();
    writePreset(dir, 'all');
    const env = envExample(dir);
    delete env.GEMINI_API_KEY;
    const loaded = loadConfig(path.join(dir, 'proxy.config.yaml'), { env });
    expect(loaded.missing.map((m) => m.name)).toEqual(['GEMINI_API_KEY']);
  });

  it('every config line is either YAML or a comment explaining it (no stray placeholders)', () => {
    for (const preset of PRESET_NAMES) {
      const { config, env } = renderPreset(preset);
      expect(config).not.toMatch(/TODO|XXX/);
      for (const line of env.split('\n')) expect(line === '' || line.startsWith('#') || /^[A-Z0-9_]+=\S+$/.test(line)).toBe(true);
    }
  });
});

describe('init presets compile (what `check` and `serve` do next)', () => {
  /** Stands in for the Russian Trusted Root CA that the gigachat preset tells the user to download. */
  async function placeCa(dir: string): Promise<void> {
    const { certPem } = await generateCertificate({ hosts: ['localhost'], days: 30, keyType: 'ec' });
    fs.mkdirSync(path.join(dir, 'certs'));
    fs.writeFileSync(path.join(dir, 'certs', 'russian_trusted_root_ca.pem'), certPem);
  }

  for (const preset of PRESET_NAMES) {
    it(`${preset}: the route table compiles with every route enabled`, async () => {
      const dir = tmpDir();
      const { steps } = writePreset(dir, preset);
      const needsCa = preset === 'gigachat' || preset === 'all';
      expect(steps.some((s) => s.includes('russian_trusted_root_ca.pem'))).toBe(needsCa);
      if (needsCa) await placeCa(dir);
      const pools = new PoolRegistry();
      const table = await compileTable(load(dir), { pools, log: silentLogger(), env: envExample(dir) });
      try {
        expect(table.routes.map((r) => [r.name, r.disabled])).toEqual(
          expect.arrayContaining(EXPECTED_ROUTES[preset]!.map((n) => [n, undefined])),
        );
      } finally {
        await table.dispose();
      }
    });
  }

  it('gigachat without the downloaded CA: the error names the file to put in place', async () => {
    const dir = tmpDir();
    writePreset(dir, 'gigachat');
    const err = await compileTable(load(dir), { pools: new PoolRegistry(), log: silentLogger(), env: envExample(dir) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(JSON.stringify((err as ConfigError).issues)).toContain('russian_trusted_root_ca.pem');
  });
});

describe('init refuses to overwrite', () => {
  it('leaves both files untouched when either exists', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, '.env.example'), 'MINE=1\n');
    expect(() => writePreset(dir, 'openai')).toThrow(PresetExistsError);
    expect(fs.existsSync(path.join(dir, 'proxy.config.yaml'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, '.env.example'), 'utf8')).toBe('MINE=1\n');
  });

  it('the command exits 1 naming the file, and --force replaces (bin/ai-relay.js)', async () => {
    const dir = tmpDir();
    const run = (...args: string[]) => runCli(['init', ...args], { cwd: dir });
    const first = await run('--preset', 'gemini', '--dir', dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('cp .env.example .env');
    fs.writeFileSync(path.join(dir, 'proxy.config.yaml'), 'edited: true\n');
    const refused = await run('--preset', 'openai', '--dir', dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('proxy.config.yaml');
    expect(fs.readFileSync(path.join(dir, 'proxy.config.yaml'), 'utf8')).toBe('edited: true\n');

    const forced = await run('--preset', 'openai', '--dir', dir, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'proxy.config.yaml'), 'utf8')).toContain('--preset openai');
  });

  it('rejects an unknown preset as bad usage (exit 2)', async () => {
    const dir = tmpDir();
    const r = await runCli(['init', '--preset', 'claude', '--dir', dir], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('claude');
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
