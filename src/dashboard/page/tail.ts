/** The live tail: the last 2,000 exchanges kept in the page, filtered and paused here. */
import { byId, h, table } from './dom.js';
import { clock, ms, statusClass } from './format.js';
import type { TailEntry } from './types.js';

const KEEP = 2000;
const SHOW = 200;

export class LiveTail {
  private entries: TailEntry[] = [];
  private lastSeq = 0;
  private paused = false;
  private readonly route = byId<HTMLSelectElement>('f-route');
  private readonly status = byId<HTMLSelectElement>('f-status');
  private readonly client = byId<HTMLInputElement>('f-client');
  private readonly pause = byId<HTMLButtonElement>('pause');

  constructor() {
    const rerender = () => this.render();
    this.route.addEventListener('change', rerender);
    this.status.addEventListener('change', rerender);
    this.client.addEventListener('input', rerender);
    this.pause.addEventListener('click', () => {
      this.paused = !this.paused;
      this.pause.setAttribute('aria-pressed', String(this.paused));
      this.pause.textContent = this.paused ? 'Resume' : 'Pause';
      this.render();
    });
  }

  /** A snapshot replaces the list; an update appends what is new. */
  take(entries: TailEntry[], snapshot: boolean): void {
    if (snapshot) {
      this.entries = entries.slice(-KEEP);
      this.lastSeq = entries.length ? entries[entries.length - 1]!.seq : 0;
    } else {
      for (const e of entries) {
        if (e.seq <= this.lastSeq) continue; // already had it (a snapshot overlapped this update)
        this.entries.push(e);
        this.lastSeq = e.seq;
      }
      if (this.entries.length > KEEP) this.entries.splice(0, this.entries.length - KEEP);
    }
    if (!this.paused) this.render();
  }

  routes(names: string[]): void {
    const have = new Set(Array.from(this.route.options, (o) => o.value));
    for (const n of names) {
      if (have.has(n)) continue;
      const o = document.createElement('option');
      o.value = n;
      o.textContent = n;
      this.route.append(o);
    }
  }

  private matches(e: TailEntry): boolean {
    const r = this.route.value;
    if (r && e.route !== r && !(r === '-' && e.route === null)) return false;
    const s = this.status.value;
    if (s === 'err' ? !(e.status >= 400 || e.status === 0 || e.outcome) : s && String(Math.floor(e.status / 100)) !== s) return false;
    const c = this.client.value.trim().toLowerCase();
    if (c && !`${e.client ?? ''} ${e.user ?? ''}`.toLowerCase().includes(c)) return false;
    return true;
  }

  private render(): void {
    const shown: TailEntry[] = [];
    let matched = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (!this.matches(e)) continue;
      matched++;
      if (shown.length < SHOW) shown.push(e);
    }
    byId('tail-note').textContent = `${this.paused ? 'Paused. ' : ''}Showing ${shown.length} of ${matched} matching (${this.entries.length} kept, newest first).`;
    table<TailEntry>(byId<HTMLTableElement>('tail'), 'Recent requests, newest first', [
      { head: 'Time', cell: (e) => clock(e.time) },
      { head: 'Route', cell: (e) => e.route ?? '–' },
      { head: 'Method', cell: (e) => e.method },
      { head: 'Path', cell: (e) => h('span', { title: e.path }, e.path), cls: () => 'path' },
      { head: 'Status', num: true, cell: (e) => (e.status || '–'), cls: (e) => statusClass(e.status) },
      { head: 'Duration', num: true, cell: (e) => ms(e.duration) },
      { head: 'First byte', num: true, cell: (e) => ms(e.ttfb) },
      { head: 'Client', cell: (e) => e.client ?? '–' },
      { head: 'User', cell: (e) => e.user ?? '–' },
      { head: 'Tokens', num: true, cell: (e) => (e.usage ? `${e.usage.input}/${e.usage.output}${e.usage.estimated ? '~' : ''}` : '–') },
      { head: 'Cache', cell: (e) => e.cache ?? '–' },
      { head: 'Outcome', cell: (e) => e.outcome ?? '' },
    ], shown);
  }
}
