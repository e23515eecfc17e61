// Reads a V8 .cpuprofile (from node --cpu-prof) and ranks functions by self time, plus a
// coarser view by where the code lives (relay source, a dependency, Node internals, GC).
import { readFileSync } from 'node:fs';

function where(url) {
  if (!url) return '(native/VM)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const m = /\/(dist|src)\/(.*)$/.exec(url);
  if (m) return `ai-relay ${m[1]}/${m[2].split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(file, top = 25) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  let total = 0;
  const fn = new Map();
  const area = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    total += us;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') {
      // kept in the total so shares are of wall time sampled; shown as their own rows
    }
    const short = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '').replace(/^.*\/(dist|src)\//, '$1/') : '';
    const key = `${cf.functionName || '(anonymous)'} ${short}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = cf.functionName === '(garbage collector)' ? 'GC' : cf.functionName === '(idle)' ? '(idle)' : cf.functionName === '(program)' ? '(program: native, not attributed)' : where(cf.url);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const idle = [...self].reduce((acc, [id, us]) => (byId.get(id).callFrame.functionName === '(idle)' ? acc + us : acc), 0);
  const busy = total - idle;
  const rank = (m) => [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
  return {
    sampledMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    topFunctions: rank(fn).slice(0, top).map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), pctOfBusy: Math.round((1000 * us) / busy) / 10 })),
    byArea: rank(area).slice(0, 15).map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), pctOfBusy: Math.round((1000 * us) / busy) / 10 })),
  };
}
