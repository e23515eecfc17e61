/**
 * Renders docs/config.md from the zod config schema (src/config/schema.ts): every key, its type
 * (with the unit for durations and sizes), its default and its `.describe()` text. The schema is
 * the single source of truth; test/config/docs.test.ts fails when the committed file is stale.
 * Run: `npm run docs:config` (scripts/gen-config-docs.mjs bundles this file with esbuild).
 */

/* eslint-disable @typescript-eslint/no-explicit-any -- walking zod's internal definitions */
type Schema = any;

interface Row {
  key: string;
  type: string;
  def: string;
  desc: string;
}

interface Section {
  path: string;
  desc: string;
  rows: Row[];
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable']);

function defOf(s: Schema): any {
  return s?._zod?.def;
}

/** Walks optional/default/prefault wrappers: the first description, the default, requiredness. */
function unwrap(s: Schema): { inner: Schema; desc: string | undefined; dflt: { value: unknown } | undefined; optional: boolean } {
  let desc: string | undefined = s?.description;
  let dflt: { value: unknown } | undefined;
  let optional = false;
  let cur = s;
  while (WRAPPERS.has(defOf(cur)?.type)) {
    const d = defOf(cur);
    // A default under an `optional` (a `.partial()` section) never applies when the key is
    // omitted: the outer value stays unset and the caller falls back (e.g. to the global egress).
    if ((d.type === 'default' || d.type === 'prefault') && !dflt && !optional) dflt = { value: d.defaultValue };
    if (d.type === 'optional') optional = true;
    cur = d.innerType;
    desc ??= cur?.description;
  }
  return { inner: cur, desc, dflt, optional: optional || dflt !== undefined };
}

/** Durations and sizes are both `string | number` pipes; tell them apart by what they accept. */
function unitOf(s: Schema): 'duration' | 'duration or none' | 'size' | 'window' | 'count' | undefined {
  const d = defOf(s);
  if (d?.type !== 'pipe' || defOf(d.out)?.type !== 'transform') return undefined;
  if (s.safeParse('week').success) return 'window';
  if (s.safeParse('20k').success && !s.safeParse('1kb').success && !s.safeParse('1s').success) return 'count';
  if (s.safeParse('1s').success) return s.safeParse('none').success ? 'duration or none' : 'duration';
  if (s.safeParse('1kb').success) return 'size';
  return undefined;
}

function typeOf(s: Schema, objectLink: (o: Schema) => string): string {
  const { inner } = unwrap(s);
  const unit = unitOf(inner);
  if (unit === 'duration') return 'duration (`500ms`, `30s`, `10m`, `2h`; a bare number is ms)';
  if (unit === 'duration or none') return 'duration or `none` (`30s`, `10m`…)';
  if (unit === 'size') return 'size (`512kb`, `32mb`; a bare number is bytes)';
  if (unit === 'window') return '`day` \\| `week` \\| `month` \\| duration (`1h`, `6h`)';
  if (unit === 'count') return 'count (`4096`, `200k`, `20M`)';
  const d = defOf(inner);
  switch (d?.type) {
    case 'pipe':
      // preprocess (string → number/boolean from ${VAR}) wraps the real type in `out`.
      return typeOf(defOf(d.in)?.type === 'transform' ? d.out : d.in, objectLink);
    case 'string':
      return 'string';
    case 'number':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal':
      return (d.values as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'array':
      return `list of ${typeOf(d.element, objectLink)}`;
    case 'record':
      return `map of name → ${typeOf(d.valueType, objectLink)}`;
    case 'union':
      return (d.options as Schema[]).map((o) => typeOf(o, objectLink)).join(' \\| ');
    case 'object':
      return objectLink(inner);
    case 'unknown':
    case 'any':
      return 'any value';
    default:
      return String(d?.type ?? 'value');
  }
}

function formatDefault(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return `\`${v}\``;
  if (typeof v === 'number' || typeof v === 'boolean') return `\`${v}\``;
  return `\`${JSON.stringify(v)}\``;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/\\\\\|/g, '\\|');
}

function anchor(path: string): string {
  return path.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export function renderConfigDocs(configSchema: Schema): string {
  const sections: Section[] = [];
  const seen = new Map<Schema, string>();

  const visit = (obj: Schema, path: string, desc: string | undefined): void => {
    const section: Section = { path, desc: desc ?? '', rows: [] };
    sections.push(section);
    seen.set(obj, path);
    const pending: [Schema, string, string | undefined][] = [];
    let rowInner: Schema;
    let rowDesc: string | undefined;
    const link = (childPath: string) => (o: Schema) => {
      const existing = seen.get(o);
      const target = existing ?? childPath;
      if (!existing && !pending.some(([p]) => p === o)) pending.push([o, childPath, o.description ?? (o === rowInner ? rowDesc : undefined)]);
      return `object, see [\`${target}\`](#${anchor(target)})`;
    };
    for (const [key, child] of Object.entries(defOf(obj).shape as Record<string, Schema>)) {
      const u = unwrap(child);
      rowInner = u.inner;
      rowDesc = u.desc;
      const childPath = path ? `${path}.${key}` : key;
      let elementPath = childPath;
      // Lists of objects document their element: routes[], transforms[].
      const innerDef = defOf(u.inner);
      if (innerDef?.type === 'array') elementPath = `${childPath}[]`;
      const type = typeOf(child, (o) => {
        // Union options of a list element (transforms) get one section each.
        const od = defOf(o);
        const keys = Object.keys(od.shape);
        const inUnion = innerDef?.type === 'array' && defOf(unwrap(innerDef.element).inner)?.type === 'union';
        if (!inUnion) return link(elementPath)(o);
        // `- png-to-jpeg: {…}`: a one-key wrapper documents its inner object directly.
        const only = keys.length === 1 ? unwrap(od.shape[keys[0]!]).inner : undefined;
        if (only && defOf(only)?.type === 'object') return `\`${keys[0]}:\` ${link(`${elementPath}.${keys[0]}`)(only)}`;
        return link(`${elementPath} (${keys[0]})`)(o);
      });
      const required = !u.optional && u.dflt === undefined;
      section.rows.push({
        key: `\`${key}\``,
        type,
        def: u.dflt ? formatDefault(u.dflt.value) : required ? '**required**' : '—',
        desc: u.desc ?? defOf(u.inner)?.element?.description ?? '',
      });
    }
    for (const [o, p, d] of pending) if (!seen.has(o)) visit(o, p, d);
  };

  visit(configSchema, '', configSchema.description);

  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs:config` from src/config/schema.ts. Do not edit by hand: change the',
    '     `.describe()` texts in the schema and regenerate (test/config/docs.test.ts checks it). -->',
    '',
    'ai-relay reads one YAML file (`proxy.config.yaml` by default; `ai-relay check` validates it).',
    'Every value may use `${VAR}` or `${VAR:-default}` (`$${X}` is a literal `${X}`); a route whose',
    'variable is not set is disabled and answers 503 `route_disabled` (with `--strict`, startup fails).',
    'Unknown keys are errors. Durations accept `500ms`, `30s`, `10m`, `2h`; sizes accept `512kb`, `32mb`.',
    'Relative file paths are relative to the config file.',
    '',
    '## Contents',
    '',
    ...sections.map((s) => `- [\`${s.path || '(top level)'}\`](#${anchor(s.path || 'top-level')})`),
    '',
  ];
  for (const s of sections) {
    out.push(`## \`${s.path || '(top level)'}\``, '');
    if (s.desc) out.push(s.desc, '');
    out.push('| Key | Type | Default | Meaning |', '|---|---|---|---|');
    for (const r of s.rows) out.push(`| ${r.key} | ${cell(r.type)} | ${cell(r.def)} | ${cell(r.desc)} |`);
    out.push('');
  }
  return out.join('\n');
}
