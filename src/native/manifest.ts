/**
 * What the single-executable build embedded. scripts/build-binary.mjs replaces
 * `__AI_RELAY_NATIVE__` at bundle time (esbuild `define`); everywhere else it is undefined.
 */
import type { NativeAsset } from './extract.js';

export interface NativeManifest {
  /** `<sharp version>-<libvips version>`: names the cache subdirectory. */
  id: string;
  assets: NativeAsset[];
  /** Key of the asset that is the Node addon (the others are libraries it links against). */
  addon: string;
}

declare const __AI_RELAY_NATIVE__: NativeManifest | undefined;

export function embeddedManifest(): NativeManifest | undefined {
  return typeof __AI_RELAY_NATIVE__ === 'undefined' ? undefined : __AI_RELAY_NATIVE__;
}
