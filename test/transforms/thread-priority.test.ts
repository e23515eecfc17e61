/**
 * Conversion threads yield to the event loop: after a conversion, every "libvips worker" thread
 * runs at a higher nice value and the event loop thread keeps its own.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { convertPng } from '../../src/transforms/png-to-jpeg.js';
import { CONVERSION_NICE, lowerConversionThreads } from '../../src/transforms/thread-priority.js';
import { loadSharp } from '../../src/native/sharp-loader.js';
import { makePng } from './helpers.js';

function threads(): { tid: number; name: string }[] {
  return readdirSync('/proc/self/task').map((t) => ({ tid: Number(t), name: readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() }));
}

describe.runIf(process.platform === 'linux')('conversion thread priority', () => {
  it('libvips workers get nice +10 after a conversion; the event loop thread does not', async () => {
    const mainBefore = getPriority(process.pid);
    const sharp = await loadSharp();
    const png = await makePng(64, 64, { r: 1, g: 2, b: 3, alpha: 0.5 });
    const out = await convertPng(sharp, png, { quality: 80, background: '#ffffff', mozjpeg: false, maxPixels: 1e8 });
    expect(Buffer.isBuffer(out)).toBe(true);
    const vips = threads().filter((t) => t.name === 'libvips worker');
    expect(vips.length).toBeGreaterThan(0);
    for (const t of vips) expect(getPriority(t.tid)).toBe(Math.min(19, mainBefore + CONVERSION_NICE));
    expect(getPriority(process.pid)).toBe(mainBefore);
    // Nothing new to do on the next call.
    expect(lowerConversionThreads()).toBe(0);
  });
});
