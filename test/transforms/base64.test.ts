import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { decodeBase64, isBase64UrlBytes } from '../../src/transforms/base64.js';

describe('decodeBase64 (from bytes, in slices)', () => {
  const data = randomBytes(10_001); // length % 3 = 2: one `=` of padding

  it('decodes standard, URL-safe and unpadded text, whatever the slice size', async () => {
    const std = Buffer.from(data.toString('base64'));
    const url = Buffer.from(data.toString('base64url'));
    expect(std.at(-1)).toBe(0x3d);
    for (const sizes of [{ step: 4, slice: 8 }, { step: 400, slice: 1200 }, { step: 1002 }, {}]) {
      expect((await decodeBase64(std, sizes))!.equals(data)).toBe(true);
      expect((await decodeBase64(url, sizes))!.equals(data)).toBe(true);
      expect((await decodeBase64(std.subarray(0, -1), sizes))!.equals(data)).toBe(true);
    }
    expect(isBase64UrlBytes(url)).toBe(true);
    expect(isBase64UrlBytes(std)).toBe(false);
  });

  it('tells the alphabet from a window, and scans on only when the window has neither', () => {
    const plain = 'A'.repeat(200);
    expect(isBase64UrlBytes(Buffer.from(`${plain}+${plain}-`), 100)).toBe(true); // past the window only '-'/'_' are looked for
    expect(isBase64UrlBytes(Buffer.from(`AB+${plain}_`), 100)).toBe(false);
    expect(isBase64UrlBytes(Buffer.from(`AB_${plain}+`), 100)).toBe(true);
    expect(isBase64UrlBytes(Buffer.from(`${plain}${plain}_`), 100)).toBe(true); // none in the window: scan on
    expect(isBase64UrlBytes(Buffer.from(`${plain}${plain}`), 100)).toBe(false);
  });

  it('rejects text with anything outside the alphabet, in any slice, and impossible lengths', async () => {
    const std = data.toString('base64');
    for (const bad of [`${std.slice(0, 8)} ${std.slice(8)}`, `${std.slice(0, 5000)}\n${std.slice(5000)}`, `${std}.`, `${std.slice(0, 100)}=${std.slice(101)}`]) {
      expect(await decodeBase64(Buffer.from(bad), { step: 400 })).toBeUndefined();
    }
    expect(await decodeBase64(Buffer.from('QUJDR'))).toBeUndefined(); // 5 chars: not a length base64 makes
  });

  it('lets the event loop turn between slices', async () => {
    const text = Buffer.from(randomBytes(40_000).toString('base64'));
    let turns = 0;
    let on = true;
    const tick = (): void => {
      turns++;
      if (on) setImmediate(tick);
    };
    setImmediate(tick);
    await decodeBase64(text, { step: 400, slice: 4000 });
    on = false;
    expect(turns).toBeGreaterThanOrEqual(10);
  });
});
