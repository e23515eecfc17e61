/**
 * Lazy loader for @peculiar/x509. Its dependency tsyringe throws at import time unless a Reflect
 * metadata polyfill is already installed, so the polyfill must be evaluated first; a static
 * import cannot guarantee that order (ESM hoists imports). Loading on demand also keeps the
 * library out of startup for relays that never generate a certificate.
 */
import type * as X509 from '@peculiar/x509';
import { cjsExports } from '../util/cjs-interop.js';

let loading: Promise<typeof X509> | undefined;

export function loadX509(): Promise<typeof X509> {
  loading ??= import('reflect-metadata')
    .then(() => import('@peculiar/x509'))
    .then((m) => cjsExports<typeof X509>(m));
  return loading;
}
