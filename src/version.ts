/** The relay's version, read from package.json at run time (inlined by the binary bundler). */
import { createRequire } from 'node:module';

declare const __AI_RELAY_VERSION__: string | undefined;

let cached: string | undefined;

export function relayVersion(): string {
  if (cached) return cached;
  if (typeof __AI_RELAY_VERSION__ === 'string') return (cached = __AI_RELAY_VERSION__);
  try {
    const require = createRequire(import.meta.url);
    cached = (require('../package.json') as { version: string }).version;
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
