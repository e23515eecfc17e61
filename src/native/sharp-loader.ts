/**
 * The one place that loads sharp. Lazy: only routes with an image transform pay for libvips.
 * STUB: the single-executable work (issue #9) extends this to load the addon embedded in the SEA.
 */
import type { Sharp, SharpOptions } from 'sharp';

export type SharpFn = ((input?: Buffer, options?: SharpOptions) => Sharp) & typeof import('sharp');

let cached: Promise<SharpFn> | undefined;

export function loadSharp(): Promise<SharpFn> {
  cached ??= import('sharp').then((m) => (m.default ?? m) as unknown as SharpFn);
  return cached;
}
