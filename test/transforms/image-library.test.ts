/**
 * png-to-jpeg holds a handle to sharp instead of loading it while routes compile
 * (src/transforms/image-library.ts): compiling loads nothing native, the first conversion loads
 * sharp and waits for it, and sharp is tuned (one libvips thread, no operation cache) before that
 * conversion. In-process; the shipped CLI's side is test/transforms/lazy-sharp.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadSharp } from '../../src/native/sharp-loader.js';
import { imageLibraryFailure, imageLibraryProblem, summary } from '../../src/transforms/image-library.js';
import { tinyPng } from '../helpers/png.js';
import { inspect, planner, runResponse } from './helpers.js';

// Every native addon goes through process.dlopen: record which ones this test file loads.
const opened: string[] = [];
const dlopen = process.dlopen;
process.dlopen = function (module: { exports: unknown }, filename: string, ...rest: unknown[]) {
  opened.push(String(filename));
  return (dlopen as (...a: unknown[]) => void).call(process, module, filename, ...rest);
} as typeof process.dlopen;

describe('image library handle', () => {
  it('compiling png-to-jpeg loads no sharp; the first conversion loads it, tuned', async () => {
    const plan = await planner([{ 'png-to-jpeg': {} }]);
    expect(opened.filter((f) => f.includes('sharp'))).toEqual([]);

    const out = await runResponse(plan, 200, { 'content-type': 'image/png' }, [tinyPng()]);
    expect(out.planned).toBe(true);
    expect(out.sink.headers['content-type']).toBe('image/jpeg');
    expect(opened.some((f) => f.includes('sharp'))).toBe(true);
    expect((await inspect(out.sink.body())).format).toBe('jpeg');

    const sharp = await loadSharp();
    expect(sharp.concurrency()).toBe(1);
    expect(sharp.cache()).toMatchObject({ memory: { max: 0 }, files: { max: 0 }, items: { max: 0 } });
    expect(imageLibraryFailure()).toBeUndefined();
    expect(imageLibraryProblem()).toBeUndefined();
  });

  it('a problem is one line: sharp\'s install advice stays in the log', () => {
    const err = new Error('Could not load the "sharp" module using the linux-x64 runtime\n/x/sharp.node: cannot open shared object file\nPossible solutions:\n- npm install --include=optional sharp');
    expect(summary(err)).toBe('Could not load the "sharp" module using the linux-x64 runtime: /x/sharp.node: cannot open shared object file');
    expect(summary(new Error('cannot load the image library (sharp/libvips): /c is on a filesystem mounted noexec'))).toBe('cannot load the image library (sharp/libvips): /c is on a filesystem mounted noexec');
  });
});

