/**
 * read → YAML (with positions) → ${VAR} interpolation → schema → cross-field checks.
 * Every problem is collected (never just the first) and reported as FILE:LINE:COL.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { configSchema, type RelayConfig } from './schema.js';
import { interpolate, type Env } from './env.js';
import { suggest } from './suggest.js';
import { crossValidate } from './validate.js';

export type ConfigPath = (string | number)[];

export interface MissingVar {
  name: string;
  path: ConfigPath;
}

export interface LoadedConfig {
  config: RelayConfig;
  /** Absolute path of the config file; relative paths inside resolve against its directory. */
  file: string;
  /** The name the user gave (for FILE:LINE:COL messages). */
  displayFile: string;
  /** --strict: whatever would disable a route is an error instead. */
  strict: boolean;
  dir: string;
  /** Variables referenced but not set (routes using them are disabled unless --strict). */
  missing: MissingVar[];
  /** Values that came from variables in secret-bearing sections (redacted everywhere). */
  secretValues: string[];
  /** Non-fatal findings (insecure TLS, open routes…), with positions. */
  warnings: ConfigIssue[];
  /** Position lookup for later checks (compile-time errors such as unreadable files). */
  positionOf(p: ConfigPath): { line: number; col: number };
}

export interface LoadOptions {
  env: Env;
  strict?: boolean;
}

export function loadConfigFile(file: string, opts: LoadOptions): LoadedConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ file, line: 1, col: 1, message: `cannot read config: ${why}` }]);
  }
  return parseConfigText(text, file, { ...opts, dir: path.dirname(abs), abs });
}

/**
 * `values: [${KEY_1}, ${KEY_2}]` (as the spec writes it) is not valid YAML: `{` opens a flow
 * mapping. Before parsing, `${…}` becomes `$⟦…⟧` — the same length in UTF-16, so every line:col
 * stays right — and each string scalar turns it back before interpolation.
 */
const VAR_TOKEN = /\$\{([A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?)\}/g;
function protectVars(text: string): string {
  return text.includes('${') ? text.replace(VAR_TOKEN, '$$⟦$1⟧') : text;
}
function restoreVars(value: string): string {
  return value.includes('$⟦') ? value.replace(/\$⟦([^⟧]*)⟧/g, '$${$1}') : value;
}

// budgets: a redis:// URL may carry a password.
const SECRET_SECTIONS = new Set(['clients', 'egress', 'forwardProxy', 'budgets']);
const SECRET_ROUTE_KEYS = new Set(['headers', 'keys', 'oauth', 'egress', 'rateLimit']);

function isSecretPath(p: ConfigPath): boolean {
  if (typeof p[0] === 'string' && SECRET_SECTIONS.has(p[0])) return true;
  if (p[0] === 'server' && p[1] === 'metricsToken') return true;
  return p[0] === 'routes' && typeof p[2] === 'string' && SECRET_ROUTE_KEYS.has(p[2]);
}

export function parseConfigText(
  text: string,
  displayFile: string,
  opts: LoadOptions & { dir?: string; abs?: string },
): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(protectVars(text), { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const at = (offset: number) => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };

  for (const e of doc.errors) {
    const p = at(e.pos[0]);
    issues.push({ file: displayFile, ...p, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (issues.length) throw new ConfigError(issues);

  const missing: MissingVar[] = [];
  const secretValues: string[] = [];
  walkInterpolate(doc.contents as Node | null, [], (node, p) => {
    const r = interpolate(restoreVars(node.value as string), opts.env);
    node.value = r.value;
    for (const name of r.missing) missing.push({ name, path: p });
    if (isSecretPath(p)) secretValues.push(...r.substituted);
  });

  const positionOf = (p: ConfigPath, unknownKey?: string) => locate(doc, p, unknownKey, at);
  const raw = doc.contents === null ? {} : doc.toJS({ maxAliasCount: 100 });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ file: displayFile, line: 1, col: 1, message: 'the config must be a YAML mapping (key: value)' }]);
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const iss of result.error.issues.flatMap((i) => expandClientUnion(i, raw))) {
      const p = iss.path as ConfigPath;
      // A value emptied by a missing variable belongs to a disabled route; its schema errors are
      // noise unless --strict asked for every variable to be present.
      if (!opts.strict && missing.some((m) => startsWith(p, m.path) || startsWith(m.path, p))) continue;
      issues.push(...describeIssue(iss, p, displayFile, positionOf, valueAt(raw, p) !== undefined));
    }
  }
  if (opts.strict) {
    for (const m of missing) {
      issues.push({ file: displayFile, ...positionOf(m.path), message: `variable ${m.name} is not set (--strict)` });
    }
  }
  if (issues.length || !result.success) {
    if (!issues.length) {
      // Only suppressed issues remain: the failing parts are disabled routes. Re-parse without them.
      return parseWithDisabled(raw, missing, displayFile, opts, positionOf, secretValues);
    }
    throw new ConfigError(sortIssues(issues));
  }
  return finish(result.data, displayFile, opts, missing, secretValues, positionOf);
}

function parseWithDisabled(
  raw: Record<string, unknown>,
  missing: MissingVar[],
  displayFile: string,
  opts: LoadOptions & { dir?: string; abs?: string },
  positionOf: (p: ConfigPath) => { line: number; col: number },
  secretValues: string[],
): LoadedConfig {
  // Replace emptied fields with inert placeholders so the route still compiles (and answers 503).
  const copy = structuredClone(raw) as Record<string, unknown>;
  for (const m of missing) setPlaceholder(copy, m.path);
  const again = configSchema.safeParse(copy);
  if (!again.success) {
    const issues = again.error.issues.map((iss) => ({
      file: displayFile,
      ...positionOf(iss.path as ConfigPath),
      message: `${iss.message} (a variable here is not set: ${missing.map((m) => m.name).join(', ')})`,
    }));
    throw new ConfigError(sortIssues(issues));
  }
  return finish(again.data, displayFile, opts, missing, secretValues, positionOf);
}

const PLACEHOLDERS: Record<string, string> = {
  upstream: 'http://disabled.invalid',
  tokenUrl: 'http://disabled.invalid',
  prefix: '/__disabled__',
};

function setPlaceholder(obj: Record<string, unknown>, p: ConfigPath): void {
  let cur: unknown = obj;
  for (let i = 0; i < p.length - 1; i++) cur = (cur as Record<string | number, unknown>)?.[p[i]!];
  const last = p[p.length - 1]!;
  if (cur && typeof cur === 'object' && (cur as Record<string | number, unknown>)[last] === '') {
    const ph = typeof last === 'string' ? PLACEHOLDERS[last] : undefined;
    if (ph) (cur as Record<string | number, unknown>)[last] = ph;
  }
}

function finish(
  config: RelayConfig,
  displayFile: string,
  opts: LoadOptions & { dir?: string; abs?: string },
  missing: MissingVar[],
  secretValues: string[],
  positionOf: (p: ConfigPath) => { line: number; col: number },
): LoadedConfig {
  const found = crossValidate(config);
  // Findings inside a route that misses a variable belong to a disabled route (fail closed, 503).
  // Likewise a client whose variable is missing (a JWT secret) only disables the routes using it.
  const inDisabled = (p: ConfigPath) =>
    !opts.strict && (p[0] === 'routes' || p[0] === 'clients') && missing.some((m) => m.path[0] === p[0] && m.path[1] === p[1]);
  const errors = found.errors.filter((f) => !inDisabled(f.path));
  const warnings = found.warnings;
  const toIssue = (f: { path: ConfigPath; message: string }) => ({ file: displayFile, ...positionOf(f.path), message: f.message });
  if (errors.length) throw new ConfigError(sortIssues(errors.map(toIssue)));
  const abs = opts.abs ?? path.resolve(displayFile);
  return {
    config,
    file: abs,
    displayFile,
    strict: opts.strict ?? false,
    dir: opts.dir ?? path.dirname(abs),
    missing,
    secretValues: [...new Set(secretValues.filter((s) => s.length >= 4))],
    warnings: warnings.map(toIssue),
    positionOf,
  };
}

function walkInterpolate(node: Node | null, p: ConfigPath, fn: (n: Node & { value: unknown }, p: ConfigPath) => void): void {
  if (!node) return;
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      walkInterpolate(pair.value as Node | null, [...p, k], fn);
    }
  } else if (isSeq(node)) {
    node.items.forEach((it, i) => walkInterpolate(it as Node | null, [...p, i], fn));
  } else if (isScalar(node) && typeof node.value === 'string') {
    fn(node as Node & { value: unknown }, p);
  }
}

/**
 * A client is a string or `{ jwt: {…} }`; zod reports a bad JWT client as one union issue. When
 * the YAML value is a mapping, the object variant is the one meant: report its own issues (with
 * their exact paths, so unknown keys get "did you mean" and positions point at the key).
 */
function expandClientUnion(iss: z.core.$ZodIssue, raw: unknown): z.core.$ZodIssue[] {
  const p = iss.path as ConfigPath;
  if (iss.code !== 'invalid_union' || p[0] !== 'clients' || p.length !== 2) return [iss];
  const v = valueAt(raw, p);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [iss];
  const objectIssues = iss.errors.find((errs) => !errs.some((e) => e.path.length === 0 && e.code === 'invalid_type'));
  if (!objectIssues?.length) return [iss];
  return objectIssues.map((e) => ({ ...e, path: [...p, ...e.path] }) as z.core.$ZodIssue);
}

function valueAt(root: unknown, p: ConfigPath): unknown {
  let cur = root;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function startsWith(a: ConfigPath, prefix: ConfigPath): boolean {
  if (prefix.length > a.length) return false;
  return prefix.every((seg, i) => a[i] === seg);
}

/** The YAML node for a config path; walks up to the nearest existing parent for missing keys. */
function locate(
  doc: Document,
  p: ConfigPath,
  unknownKey: string | undefined,
  at: (o: number) => { line: number; col: number },
): { line: number; col: number } {
  let node: unknown = doc.contents;
  let best: unknown = doc.contents;
  for (const seg of p) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      best = pair.value ?? pair.key;
      node = pair.value;
      if (!node) {
        best = pair.key;
        break;
      }
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg];
      best = node;
    } else break;
  }
  if (unknownKey !== undefined && isMap(best)) {
    const pair = best.items.find((it) => isScalar(it.key) && String(it.key.value) === unknownKey);
    if (pair && isScalar(pair.key) && pair.key.range) return at(pair.key.range[0]);
  }
  const range = (best as { range?: [number, number, number] } | null)?.range;
  if (isPair(best)) return at(((best.key as { range?: number[] })?.range?.[0]) ?? 0);
  return at(range ? range[0] : 0);
}

function describeIssue(
  iss: z.core.$ZodIssue,
  p: ConfigPath,
  file: string,
  positionOf: (p: ConfigPath, unknownKey?: string) => { line: number; col: number },
  present: boolean,
): ConfigIssue[] {
  const where = p.length ? p.join('.') : '(top level)';
  if (iss.code === 'unrecognized_keys') {
    const known = knownKeys(p);
    return iss.keys.map((k) => {
      const s = suggest(k, known);
      return {
        file,
        ...positionOf(p, k),
        message: `unknown key "${k}" in ${where}${s ? ` (did you mean "${s}"?)` : ''}`,
      };
    });
  }
  let message = iss.message;
  // zod 4 leaves `input` out of issues, so presence is judged on the parsed YAML: a value of the
  // wrong type must not be reported as missing.
  if (iss.code === 'invalid_type' && !present) message = 'is required';
  if (iss.code === 'invalid_union') message = present ? unionMessage(p) : `is required (${unionMessage(p)})`;
  return [{ file, ...positionOf(p), message: `${where}: ${message}` }];
}

function unionMessage(p: ConfigPath): string {
  if (p[0] === 'routes' && p[2] === 'transforms') return 'a transform is `png-to-jpeg: {…}` or `module: ./file.mjs` (with optional options/timeout)';
  if (p[0] === 'routes' && p[2] === 'budget' && p[4] === 'per') return 'a budget window: day, week, month or a duration such as 6h';
  if (p[0] === 'routes' && p[2] === 'auth') return 'auth is `none` or a list of client names from `clients`';
  if (p[0] === 'clients' && p.length === 2) return 'a client is a token string or `jwt: {…}` (docs/identity.md)';
  if (p[0] === 'clients' && p[3] === 'claims') return 'a claim value is a string, a number or true/false';
  if (p[0] === 'clients' && p[3] === 'audience') return 'audience is a string, a list of strings, or `none`';
  return 'invalid value';
}

/** Keys the schema allows at a path, for did-you-mean. Walks zod's definitions. */
function knownKeys(p: ConfigPath): string[] {
  let s: any = configSchema;
  const unwrap = (x: any): any => {
    for (;;) {
      const d = x?._zod?.def;
      if (!d) return x;
      if (d.type === 'optional' || d.type === 'default' || d.type === 'prefault' || d.type === 'nullable') x = d.innerType;
      else if (d.type === 'pipe') x = d.in;
      else return x;
    }
  };
  for (const seg of p) {
    s = unwrap(s);
    const d = s?._zod?.def;
    if (!d) return [];
    if (d.type === 'object') s = d.shape[seg as string];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else if (d.type === 'union') {
      // transforms: choose the object variant; good enough for suggestions.
      s = d.options.find((o: any) => unwrap(o)?._zod?.def?.type === 'object' && String(seg) in unwrap(o)._zod.def.shape) ?? d.options[d.options.length - 1];
      s = unwrap(s)?._zod?.def?.shape?.[seg as string];
    } else return [];
  }
  s = unwrap(s);
  const d = s?._zod?.def;
  if (d?.type === 'object') return Object.keys(d.shape);
  if (d?.type === 'union') return d.options.flatMap((o: any) => Object.keys(unwrap(o)?._zod?.def?.shape ?? {}));
  return [];
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}
