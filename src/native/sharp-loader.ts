/**
 * The one place that loads sharp. Lazy: only routes with an image transform pay for libvips.
 * Inside the single executable the native addon is unpacked from the binary first
 * (embedded-sharp.ts), so a broken cache dir fails here with a message naming AI_RELAY_CACHE_DIR
 * rather than sharp's generic "npm install" advice.
 */
import type { Sharp, SharpOptions } from 'sharp';
import { loadSharpAddon, runningInSea } from './embedded-sharp.js';

export type SharpFn = ((input?: Buffer, options?: SharpOptions) => Sharp) & typeof import('sharp');

let cached: Promise<SharpFn> | undefined;

export function loadSharp(): Promise<SharpFn> {
  cached ??= (async () => {
    if (runningInSea()) loadSharpAddon();
    const m = await import('sharp');
    return (m.default ?? m) as unknown as SharpFn;
  })();
  return cached;
}

export { NativeLoadError } from './embedded-sharp.js';
