/**
 * The pieces of the single executable's native loading that run without a SEA: where the cache
 * lives, how assets are unpacked and reused, and how a noexec mount is recognised.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheRoot, nativeDir } from '../../src/native/cache-dir.js';
import { extractAssets } from '../../src/native/extract.js';
import { isNoexec } from '../../src/native/noexec.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-relay-native-'));
  dirs.push(d);
  return d;
}

describe('cache dir', () => {
  it('AI_RELAY_CACHE_DIR wins, then an absolute XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheRoot({ AI_RELAY_CACHE_DIR: '/srv/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/srv/c');
    expect(cacheRoot({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/ai-relay');
    expect(cacheRoot({ XDG_CACHE_HOME: 'relative', HOME: '/h' })).toBe('/h/.cache/ai-relay');
    expect(cacheRoot({ HOME: '/h' })).toBe('/h/.cache/ai-relay');
    expect(nativeDir('0.35.5-8.18.7', { HOME: '/h' })).toBe('/h/.cache/ai-relay/native-0.35.5-8.18.7');
    expect(() => nativeDir('../x', { HOME: '/h' })).toThrow(/invalid/);
  });
});

describe('extractAssets', () => {
  const assets = [
    { key: 'lib', rel: '@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.1' },
    { key: 'addon', rel: '@img/sharp-linux-x64/lib/sharp.node' },
  ];
  const data: Record<string, Uint8Array> = { lib: new Uint8Array(3000).fill(7), addon: new Uint8Array(100).fill(9) };
  const read = (k: string) => data[k]!.slice().buffer;

  it('writes executable files in the node_modules layout, then reuses them', () => {
    const dir = path.join(tmp(), 'native-1');
    const first = extractAssets(dir, assets, read);
    expect(first.written).toEqual(['lib', 'addon']);
    expect(first.paths.addon).toBe(path.join(dir, '@img/sharp-linux-x64/lib/sharp.node'));
    expect(fs.readFileSync(first.paths.lib!)).toEqual(Buffer.from(data.lib!));
    expect(fs.statSync(first.paths.addon!).mode & 0o111).not.toBe(0);
    expect(extractAssets(dir, assets, read).written).toEqual([]);
    // No temp files left behind.
    expect(fs.readdirSync(path.dirname(first.paths.addon!))).toEqual(['sharp.node']);
  });

  it('rewrites a file whose size does not match (a truncated earlier write)', () => {
    const dir = path.join(tmp(), 'native-1');
    const { paths } = extractAssets(dir, assets, read);
    fs.truncateSync(paths.lib!, 10);
    expect(extractAssets(dir, assets, read).written).toEqual(['lib']);
    expect(fs.statSync(paths.lib!).size).toBe(3000);
  });

  it('refuses an asset path that leaves the cache dir', () => {
    expect(() => extractAssets(path.join(tmp(), 'n'), [{ key: 'lib', rel: '../evil.so' }], read)).toThrow(/escapes/);
  });

  it('fails with the errno when the dir cannot be written', () => {
    const base = tmp();
    fs.writeFileSync(path.join(base, 'file'), 'x');
    expect(() => extractAssets(path.join(base, 'file', 'native'), assets, read)).toThrow(/ENOTDIR/);
  });
});

describe('isNoexec', () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '30 22 0:25 / /tmp rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw',
    '31 30 0:26 / /tmp/exec\\040ok rw,relatime shared:6 - tmpfs tmpfs rw',
    '32 22 0:27 / /home rw,nosuid,noexec - ext4 /dev/sda2 rw',
    '33 22 0:28 / /home rw,nosuid - ext4 /dev/sda3 rw',
  ].join('\n');

  it('finds the longest matching mount point, and the last one mounted on a point', () => {
    expect(isNoexec('/var/cache/ai-relay/x', mountinfo)).toBe(false);
    expect(isNoexec('/tmp/cache', mountinfo)).toBe(true);
    expect(isNoexec('/tmp', mountinfo)).toBe(true);
    expect(isNoexec('/tmpfoo/cache', mountinfo)).toBe(false);
    expect(isNoexec('/tmp/exec ok/cache', mountinfo)).toBe(false);
    expect(isNoexec('/home/u/.cache', mountinfo)).toBe(false);
  });

  it('is unknown without /proc', () => {
    expect(isNoexec('/tmp', null)).toBeUndefined();
  });
});
