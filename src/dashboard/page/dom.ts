/** DOM helpers: every piece of text goes in through textContent, never as markup. */

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: { class?: string; title?: string; scope?: string } = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title) el.title = props.title;
  if (props.scope) el.setAttribute('scope', props.scope);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Node[]): void {
  el.replaceChildren(...children);
}

export interface Column<T> {
  head: string;
  num?: boolean;
  cell(row: T): Child;
  cls?(row: T): string | undefined;
}

export function table<T>(el: HTMLTableElement, caption: string | undefined, cols: Column<T>[], rows: T[]): void {
  const head = h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.head))));
  const body = h('tbody');
  for (const r of rows) {
    const tr = h('tr');
    for (const c of cols) {
      const cls = [c.num ? 'num' : '', c.cls?.(r) ?? ''].filter(Boolean).join(' ');
      tr.append(h('td', { class: cls }, c.cell(r)));
    }
    body.append(tr);
  }
  el.replaceChildren(...(caption ? [h('caption', { class: 'sr-only' }, caption)] : []), head, body);
}

/** A small table in a fresh container, or an "empty" line. */
export function miniTable<T>(host: HTMLElement, label: string, cols: Column<T>[], rows: T[], empty: string): void {
  if (!rows.length) return fill(host, h('p', { class: 'empty' }, empty));
  const t = h('table');
  table(t, label, cols, rows);
  const wrap = h('div', { class: 'scroll' }, t);
  wrap.tabIndex = 0;
  wrap.setAttribute('role', 'region');
  wrap.setAttribute('aria-label', `${label} table`);
  fill(host, wrap);
}
