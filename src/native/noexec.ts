/**
 * Is a path on a `noexec` mount? dlopen fails there with a cryptic "failed to map segment from
 * shared object"; knowing the cause lets us tell the operator which variable fixes it.
 * Linux only (/proc/self/mountinfo); elsewhere, or when unreadable, the answer is "unknown".
 */
import fs from 'node:fs';
import path from 'node:path';

export function isNoexec(target: string, mountinfo: string | null = readMountinfo()): boolean | undefined {
  if (mountinfo === null) return undefined;
  let real: string;
  try {
    real = fs.realpathSync(target);
  } catch {
    real = path.resolve(target);
  }
  let best: { point: string; noexec: boolean } | undefined;
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    const f = line.split(' ');
    if (f.length < 6) continue;
    const point = unescapeMount(f[4]!);
    const within = point === '/' || real === point || real.startsWith(point + '/');
    // Later lines win for the same point: they are mounted on top.
    if (within && (!best || point.length >= best.point.length)) {
      best = { point, noexec: f[5]!.split(',').includes('noexec') };
    }
  }
  return best?.noexec;
}

function readMountinfo(): string | null {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
