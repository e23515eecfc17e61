/**
 * The dashboard's CSRF and DNS-rebinding guard (spec §14): a request whose `Origin` is `null` or
 * names another host:port than the request's own `Host` is refused. Requests without `Origin`
 * (curl, top-level GET navigations) are judged by their session alone.
 */
export function foreignOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return false;
  if (!host) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return true; // `null` and anything unparsable
  }
  if (o.protocol !== 'http:' && o.protocol !== 'https:') return true;
  let h: URL;
  try {
    // The Host header parsed with the Origin's scheme, so default ports compare equal (:80 / none).
    h = new URL(`${o.protocol}//${host}`);
  } catch {
    return true;
  }
  return h.host !== o.host || h.pathname !== '/' || h.username !== '' || h.search !== '';
}
