/**
 * `ai-relay serve` sets V8's heap growing factor (src/cli/heap.ts). Without it, each image
 * conversion's ~13 MB of Buffers pushed a small relay heap over V8's limit, so V8 ran a full
 * mark-compact for about every image, each one blocking every other request. A child relay
 * converts real ~4 MB PNGs under `--trace-gc`, and the test counts its mark-compacts, with the
 * default tuning and with AI_RELAY_HEAP_GROWING_PERCENT=0 (V8's own heuristics). It counts
 * collections, not time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { heapGrowingPercent, pretenuringOff } from '../../src/cli/heap.js';

const IMAGES = 32;
let upstream: FakeUpstream;
let dir: string;

beforeAll(async () => {
  // Noise does not compress: a 1024x1024 RGBA PNG of ~4 MB, ~5 MB as base64, like the bench's image.
  const png = await sharp(randomBytes(1024 * 1024 * 4), { raw: { width: 1024, height: 1024, channels: 4 } }).png({ compressionLevel: 1 }).toBuffer();
  const body = Buffer.from(JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64') }] }));
  const small = Buffer.from('{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"}}]}');
  upstream = await startUpstream((req, res) => {
    const b = req.url?.startsWith('/v1/images') ? body : small;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
  });
  dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-heap-'));
}, 30_000);

afterAll(async () => {
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs a child relay and converts IMAGES images two at a time while small requests keep another
 * route busy (as in the bench: their young garbage is what grows V8's young generation, and
 * with it the margin V8 wants below its limit). Returns the relay's mark-compact count.
 */
async function markCompactsWhileConverting(env: Record<string, string>): Promise<number> {
  const cfg = path.join(dir, 'relay.yaml');
  writeFileSync(
    cfg,
    `server:\n  host: 127.0.0.1\n  port: 0\nlog:\n  level: warn\nroutes:\n  - name: api\n    prefix: /api\n    upstream: ${upstream.url}\n    auth: none\n  - name: img\n    prefix: /img\n    upstream: ${upstream.url}\n    auth: none\n    transforms:\n      - png-to-jpeg:\n          quality: 90\n`,
  );
  const relay = await startCli(['serve', '--config', cfg, '--log-level', 'info'], { nodeArgs: ['--trace-gc'], env });
  try {
    const m = await relay.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/, 10_000);
    const pool = new Pool(m[1]!, { connections: 2 });
    const one = async () => {
      const r = await pool.request({ method: 'GET', path: '/img/v1/images' });
      const text = await r.body.text();
      expect(r.statusCode).toBe(200);
      expect(text).toContain('"b64_json":"/9j/'); // converted: a JPEG
    };
    await one(); // warm-up: sharp loaded, code compiled
    const smallPool = new Pool(m[1]!, { connections: 4 });
    let converting = true;
    const smalls = Promise.all(
      [0, 1, 2, 3].map(async () => {
        while (converting) {
          const r = await smallPool.request({ method: 'GET', path: '/api/v1/chat' });
          await r.body.dump();
        }
      }),
    );
    const mark = relay.stdout().length;
    let left = IMAGES;
    await Promise.all(
      [0, 1].map(async () => {
        while (left-- > 0) await one();
      }),
    );
    converting = false;
    await smalls;
    await Promise.all([pool.close(), smallPool.close()]);
    const n = (relay.stdout().slice(mark).match(/Mark-Compact/g) ?? []).length;
    if (process.env.SHOW_GC) console.log(JSON.stringify(env), "mark-compacts", n);
    return n;
  } finally {
    relay.child.kill('SIGKILL');
  }
}

describe('V8 heap tuning under image conversions', () => {
  it('runs far fewer full GCs than V8 defaults', { timeout: 90_000 }, async () => {
    const tuned = await markCompactsWhileConverting({});
    const defaults = await markCompactsWhileConverting({ AI_RELAY_HEAP_GROWING_PERCENT: '0' });
    // Measured (32 images, 2 cores): defaults 13-26, tuned 4-8 from the shipped bundle (5 from
    // the tsc output); on a host busy with other work, 14 vs 7. Without the tuning both counts
    // are the same, so half is a clear line that load alone does not cross.
    expect(defaults).toBeGreaterThanOrEqual(IMAGES / 3); // the setup reproduces the problem
    expect(tuned).toBeLessThanOrEqual(defaults / 2);
  });

  it('refuses a bad AI_RELAY_HEAP_GROWING_PERCENT and leaves node flags alone', () => {
    expect(() => heapGrowingPercent({ AI_RELAY_HEAP_GROWING_PERCENT: 'lots' }, [])).toThrow(/AI_RELAY_HEAP_GROWING_PERCENT must be an integer 0-1000, got lots/);
    expect(() => heapGrowingPercent({ AI_RELAY_HEAP_GROWING_PERCENT: '-5' }, [])).toThrow(/0-1000/);
    expect(heapGrowingPercent({ AI_RELAY_HEAP_GROWING_PERCENT: '0' }, [])).toBeUndefined();
    expect(heapGrowingPercent({}, ['--heap-growing-percent=50'])).toBeUndefined();
    expect(heapGrowingPercent({}, ['--heap_growing_percent', '50'])).toBeUndefined();
    expect(heapGrowingPercent({ AI_RELAY_HEAP_GROWING_PERCENT: '200' }, [])).toBe(200);
    expect(heapGrowingPercent({}, [])).toBe(300);
  });

  it('switches allocation-site pretenuring off unless told not to (issue #19; the effect: gc-promotion.test.ts)', async () => {
    expect(pretenuringOff({}, [])).toBe(true);
    expect(pretenuringOff({ AI_RELAY_HEAP_PRETENURING: '0' }, [])).toBe(true);
    expect(pretenuringOff({ AI_RELAY_HEAP_PRETENURING: '1' }, [])).toBe(false);
    expect(pretenuringOff({}, ['--allocation-site-pretenuring'])).toBe(false);
    expect(pretenuringOff({}, ['--no-allocation_site_pretenuring'])).toBe(false);
    expect(() => pretenuringOff({ AI_RELAY_HEAP_PRETENURING: 'yes' }, [])).toThrow(/AI_RELAY_HEAP_PRETENURING must be 0 or 1, got yes/);
    // The shipped CLI refuses it before reading the config.
    const r = await runCli(['serve', '--config', 'missing.yaml'], { env: { AI_RELAY_HEAP_PRETENURING: 'yes' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('AI_RELAY_HEAP_PRETENURING must be 0 or 1, got yes');
  });
});
