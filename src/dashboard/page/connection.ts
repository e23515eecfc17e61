/**
 * The live feed: one EventSource on `<mount>/events`. It closes while the tab is hidden (a hidden
 * dashboard costs the relay nothing and frees one of the browser's six HTTP/1.1 connections to
 * this host) and reconnects with exponential backoff. When the session is over (logout, idle
 * expiry, a relay restart) the page reloads and shows the login form.
 */
import type { View } from './types.js';

export type ConnState = 'connecting' | 'live' | 'hidden' | 'retrying' | 'waiting';

export interface ConnectionHooks {
  onView(v: View): void;
  onState(s: ConnState, detail?: string): void;
}

const WAIT_HINT_MS = 4000;

export function connect(mount: string, hooks: ConnectionHooks): void {
  let es: EventSource | undefined;
  let backoff = 1000;
  let retryTimer = 0;
  let waitTimer = 0;

  const close = () => {
    es?.close();
    es = undefined;
    clearTimeout(waitTimer);
  };

  const open = () => {
    clearTimeout(retryTimer);
    if (document.visibilityState === 'hidden') return hooks.onState('hidden');
    close();
    hooks.onState('connecting');
    const source = new EventSource(`${mount}/events`);
    es = source;
    // Still not open: most likely the browser's per-host connection limit (see the banner text).
    waitTimer = window.setTimeout(() => {
      if (source.readyState !== EventSource.OPEN) hooks.onState('waiting');
    }, WAIT_HINT_MS);
    const onData = (ev: MessageEvent<string>) => {
      backoff = 1000;
      try {
        hooks.onView(JSON.parse(ev.data) as View);
      } catch {
        /* a malformed event is skipped; the next one replaces it */
      }
    };
    source.addEventListener('open', () => {
      clearTimeout(waitTimer);
      hooks.onState('live');
    });
    source.addEventListener('snapshot', onData as EventListener);
    source.addEventListener('update', onData as EventListener);
    source.addEventListener('error', () => {
      if (es !== source) return;
      close();
      const delay = backoff;
      backoff = Math.min(backoff * 2, 30_000);
      hooks.onState('retrying', `reconnecting in ${Math.round(delay / 1000)} s`);
      retryTimer = window.setTimeout(() => {
        // Find out why before reconnecting: a session that ended needs the login form.
        fetch(`${mount}/api/session`, { credentials: 'same-origin', cache: 'no-store' })
          .then((r) => r.json() as Promise<{ session?: boolean }>)
          .then((d) => (d.session === false ? location.reload() : open()))
          .catch(() => open());
      }, delay);
    });
  };

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      close();
      hooks.onState('hidden');
    } else open();
  });
  open();
}
