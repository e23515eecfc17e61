/** convertPng's encoder settings, and the conversion cap set through compileTransforms. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { Sharp } from 'sharp';
import { convertPng } from '../../src/transforms/png-to-jpeg.js';
import { compileTransforms } from '../../src/transforms/index.js';
import { conversionSlots, defaultConversionSlots, setConversionConcurrency } from '../../src/transforms/semaphore.js';
import { loadSharp } from '../../src/native/sharp-loader.js';
import { captureLog, inspect, ROUTE } from './helpers.js';

describe('convertPng', () => {
  it('optimizeCoding (default on) gives a smaller JPEG than without; both decode', async () => {
    const sharp = await loadSharp();
    const png = await (sharp as unknown as (i: Buffer, o: object) => Sharp)(randomBytes(96 * 96 * 4), { raw: { width: 96, height: 96, channels: 4 } }).png().toBuffer();
    const base = { quality: 95, background: '#ffffff', mozjpeg: false, maxPixels: 1e8 };
    const optimised = (await convertPng(sharp, png, base)) as Buffer;
    const plain = (await convertPng(sharp, png, { ...base, optimizeCoding: false })) as Buffer;
    expect(Buffer.isBuffer(optimised) && Buffer.isBuffer(plain)).toBe(true);
    expect(optimised.length).toBeLessThan(plain.length);
    expect((await inspect(optimised)).format).toBe('jpeg');
    expect((await inspect(plain)).format).toBe('jpeg');
  });
});

describe('conversion cap from compile options', () => {
  it('a png-to-jpeg route applies `conversions`; undefined restores the default', async () => {
    const opts = { route: ROUTE, configDir: '.', maxTransformSize: 1 << 20, log: captureLog().log };
    try {
      await compileTransforms([{ 'png-to-jpeg': { quality: 95, background: '#ffffff', mozjpeg: false, optimizeCoding: true, maxPixels: 1e8 } }], { ...opts, conversions: 5 });
      expect(conversionSlots().size).toBe(5);
      await compileTransforms([{ 'png-to-jpeg': { quality: 95, background: '#ffffff', mozjpeg: false, optimizeCoding: true, maxPixels: 1e8 } }], opts);
      expect(conversionSlots().size).toBe(defaultConversionSlots());
    } finally {
      setConversionConcurrency(undefined);
    }
  });
});
