/** Which dashboard page a request path names, under the root or any base path (pure). */

/**
 * `{ mount, sub }` when `url` (path and query as sent) is `<base><dashPath>` or below it — `mount`
 * is what the browser sees as the dashboard's path (cookie Path, redirects), `sub` the rest — or
 * undefined. `bases` are normalised, longest first, `/` for the root.
 */
export function dashboardTarget(url: string, bases: readonly string[], dashPath: string): { mount: string; sub: string } | undefined {
  const at = url.indexOf(dashPath);
  if (at < 0) return undefined; // the common case: one scan of the URL and out
  let end = url.length;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 || c === 35) {
      end = i;
      break;
    }
  }
  const path = end === url.length ? url : url.slice(0, end);
  for (const b of bases) {
    const mount = (b === '/' ? '' : b) + dashPath;
    if (path === mount) return { mount, sub: '' };
    if (path.startsWith(mount) && path.charCodeAt(mount.length) === 47) return { mount, sub: path.slice(mount.length) };
  }
  return undefined;
}
