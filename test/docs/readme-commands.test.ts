/**
 * The README is executable (issue #15): every `ai-relay …` command README.md shows, and every
 * YAML config snippet it shows, is run against the real CLI (test/helpers/cli.ts) in a temp dir.
 * A command or snippet that stops working fails with the README line it came from.
 *
 * Rules, kept simple on purpose:
 *
 * Shell (fenced ```sh / ```bash / ```shell / ```console blocks)
 * - A block is one session, run top to bottom in a fresh sandbox dir. The reader of the README
 *   is in a checkout ("npm install && npm start"), so every sandbox starts with a copy of the
 *   repo's proxy.config.yaml. Absolute paths (/etc/ai-relay) are mapped into the sandbox.
 * - `ai-relay …` and `npx ai-relay …` lines run through the CLI and must exit 0; then a
 *   per-command check runs (`init` wrote its files, `gen-cert` wrote a usable pair and refuses a
 *   second run without --force, `check` printed `FILE: OK`). `serve` runs on 127.0.0.1 with
 *   `--port 0` added, must come up, and is stopped with SIGTERM.
 * - `cd`, `mkdir -p`, `cp`, `chmod` (octal modes) are done on the sandbox (the files the next
 *   command needs).
 * - Everything else is skipped by the program name in SKIPPED_PROGRAMS (with the reason). A
 *   program that is in none of these lists fails the suite, so a new kind of line gets a decision.
 * - `--opt value   # or a | b | c` runs the whole block once per alternative (the init presets).
 * - `ai-relay …` in inline code outside fences (`npx ai-relay check`) runs alone in a sandbox.
 *
 * YAML (fenced ```yaml blocks) — every snippet goes through `ai-relay check`, decided by shape:
 * - a mapping whose keys are all top-level config keys: a full config, checked as written;
 * - a list: a route list, checked as `routes:` + the snippet;
 * - any other mapping: keys of one route, added to a minimal route (name/prefix/upstream/auth
 *   are supplied only when the snippet lacks them).
 * Without a `clients:` key the snippet gets `clients: { web: ${PROXY_TOKEN} }` appended (the
 * walked-through config's client, which every recipe uses as `auth: [web]`). Wrapping only adds
 * lines before and after the snippet, so errors are reported at their README line. Every
 * `${VAR}` without a default is set to a dummy value (DUMMY_VALUES where the shape matters), and
 * the CA file the README tells the user to download is stood in for by a generated one. Every
 * route must then be enabled. A snippet that cannot be checked goes into NOT_CHECKED with a
 * reason; anything else is checked by default.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { generateCertificate } from '../../src/tls/generate.js';
import { runCli, startCli, type CliProcess, type CliResult } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const README = 'README.md';
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The presets of spec §2 (`ai-relay init --preset …`); the README must let a reader try each. */
const SPEC_PRESETS = ['openai', 'gemini', 'gigachat', 'fusionbrain', 'all'];

/** Shell programs that are not run, and why. Any other program (not ai-relay, not emulated) fails. */
const SKIPPED_PROGRAMS: Record<string, string> = {
  npm: 'builds, installs or tests the project itself; this suite runs on the result of npm ci',
  curl: 'needs a relay on a fixed port or the Internet; /health over HTTPS is tested below with a port of its own',
  scp: 'copies to another machine',
  ssh: 'logs into another machine',
  nano: 'an interactive editor; the values init wrote to .env.example stand in for what the user types',
  systemctl: 'systemd on the VPS (root)',
  journalctl: 'systemd on the VPS (root)',
  useradd: 'creates a system user (root)',
  sudo: 'root on the machine',
  docker: 'needs a Docker daemon',
  'redis-server': 'a Redis server, not part of ai-relay',
};

/** YAML snippets that are not run through `check`: a distinctive piece of the snippet → why. */
const NOT_CHECKED: { contains: string; reason: string }[] = [];

/** `${VAR}` values whose shape matters; every other variable is `readme-test-<var>`. */
const DUMMY_VALUES: Record<string, string> = {
  REDIS_URL: 'redis://127.0.0.1:6379',
};

/** Top-level keys of the config file, from the schema itself. */
const TOP_LEVEL_KEYS = new Set(Object.keys(configSchema.shape));

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

interface Line {
  /** 1-based line number in README.md. */
  line: number;
  text: string;
}

interface Fence {
  /** The info string's first word (`sh`, `yaml`, …), lower case; '' when none. */
  lang: string;
  /** Line of the opening fence. */
  line: number;
  /** Content lines with the fence's own indentation removed (fences may sit in list items). */
  body: Line[];
}

/**
 * Splits markdown into fenced code blocks and the lines outside them. A fence opens with three
 * or more backticks or tildes (indented by up to a list item's worth of spaces) and closes with
 * at least as many of the same character and nothing after them.
 */
function parseMarkdown(text: string): { fences: Fence[]; prose: Line[] } {
  const fences: Fence[] = [];
  const prose: Line[] = [];
  let open: { fence: Fence; marker: string; indent: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (!open) {
      const m = /^( *)(`{3,}|~{3,})\s*([^\s`]*)/.exec(raw);
      if (m) {
        const fence = { lang: m[3]!.toLowerCase(), line, body: [] };
        open = { fence, marker: m[2]!, indent: m[1]!.length };
        fences.push(fence);
      } else prose.push({ line, text: raw });
      return;
    }
    const close = /^ *(`{3,}|~{3,})\s*$/.exec(raw);
    if (close && close[1]![0] === open.marker[0] && close[1]!.length >= open.marker.length) {
      open = undefined;
      return;
    }
    // Remove the fence's indentation (but never non-blank text).
    const strip = Math.min(open.indent, /^ */.exec(raw)![0].length);
    open.fence.body.push({ line, text: raw.slice(strip) });
  });
  if (open) throw new Error(`${README}:${open.fence.line}: unclosed code fence`);
  return { fences, prose };
}

// ---------------------------------------------------------------------------------------------
// Shell lines
// ---------------------------------------------------------------------------------------------

interface ShellCommand {
  line: number;
  /** The README text the command came from (the whole line, comment included). */
  source: string;
  argv: string[];
  /** The trailing `# …` comment of the line, if any. */
  comment: string;
}

/**
 * Tokenises one shell line: whitespace-separated words, '…' and "…" quotes, `\` escapes, an
 * unquoted `#` at the start of a word begins the comment, `&&` and `;` separate commands.
 */
function parseShellLine(text: string, line: number): ShellCommand[] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  let comment = '';
  const end = () => {
    if (word !== undefined) commands.at(-1)!.push(word);
    word = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      end();
    } else if (c === '#' && word === undefined) {
      comment = text.slice(i + 1).trim();
      break;
    } else if (c === ';' || (c === '&' && text[i + 1] === '&')) {
      end();
      if (c === '&') i++;
      commands.push([]);
    } else {
      word = (word ?? '') + c;
    }
  }
  end();
  return commands.filter((argv) => argv.length > 0).map((argv) => ({ line, source: text.trim(), argv, comment }));
}

/** Joins `\`-continued lines and parses every line of a shell block. */
function parseShellBlock(body: Line[]): ShellCommand[] {
  const out: ShellCommand[] = [];
  let pending: Line | undefined;
  for (const l of body) {
    const joined: Line = pending ? { line: pending.line, text: `${pending.text} ${l.text.trim()}` } : l;
    if (/\\\s*$/.test(joined.text)) {
      pending = { line: joined.line, text: joined.text.replace(/\\\s*$/, '') };
      continue;
    }
    pending = undefined;
    out.push(...parseShellLine(joined.text, joined.line));
  }
  return out;
}

/** The ai-relay arguments of a command (`ai-relay x` or `npx ai-relay x`), else undefined. */
function relayArgs(argv: string[]): string[] | undefined {
  if (argv[0] === 'ai-relay') return argv.slice(1);
  if (argv[0] === 'npx' && argv[1] === 'ai-relay') return argv.slice(2);
  return undefined;
}

const EMULATED = new Set(['cd', 'mkdir', 'cp', 'chmod']);

/**
 * `--opt value   # or a | b | c`: the block is meant to be run with each alternative. Returns the
 * variants of the block (just the block itself when it has no such line).
 */
function blockVariants(commands: ShellCommand[]): { name: string; commands: ShellCommand[] }[] {
  const idx = commands.findIndex((c) => /^or\s+\S+(\s*\|\s*\S+)+$/.test(c.comment) && c.argv.length >= 2 && c.argv.at(-2)!.startsWith('--'));
  if (idx < 0) return [{ name: '', commands }];
  const c = commands[idx]!;
  const shown = c.argv.at(-1)!;
  const alternatives = [shown, ...c.comment.replace(/^or\s+/, '').split('|').map((s) => s.trim())];
  return alternatives.map((alt) => ({
    name: `${c.argv.at(-2)} ${alt}`,
    commands: commands.map((x, j) => (j === idx ? { ...x, argv: [...x.argv.slice(0, -1), alt] } : x)),
  }));
}

// ---------------------------------------------------------------------------------------------
// What the README contains
// ---------------------------------------------------------------------------------------------

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);
const YAML_LANGS = new Set(['yaml', 'yml']);

const markdown = parseMarkdown(readFileSync(path.join(ROOT, README), 'utf8'));
const shellBlocks = markdown.fences.filter((f) => SHELL_LANGS.has(f.lang)).map((f) => ({ fence: f, commands: parseShellBlock(f.body) }));
const yamlBlocks = markdown.fences.filter((f) => YAML_LANGS.has(f.lang));
/** `ai-relay …` in inline code in the prose. */
const inlineCommands: ShellCommand[] = markdown.prose.flatMap((l) =>
  [...l.text.matchAll(/`((?:npx )?ai-relay [^`]+)`/g)].flatMap((m) => parseShellLine(m[1]!, l.line)),
);
const relayCommands = [...shellBlocks.flatMap((b) => b.commands), ...inlineCommands].filter((c) => relayArgs(c.argv));

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

let tmpRoot: string;
/** A stand-in for the Russian Trusted Root CA the README tells the user to download. */
let standInCa: string;
const children: CliProcess[] = [];

function sandbox(name: string): string {
  const dir = mkdtempSync(path.join(tmpRoot, `${name.replace(/[^\w.-]+/g, '_')}-`));
  copyFileSync(path.join(ROOT, 'proxy.config.yaml'), path.join(dir, 'proxy.config.yaml'));
  return dir;
}

function placeStandInCa(dir: string): void {
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  writeFileSync(path.join(dir, 'certs', 'russian_trusted_root_ca.pem'), standInCa);
}

function where(c: ShellCommand): string {
  return `${README}:${c.line}: ${c.source}`;
}

function describeResult(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The value of `--name value` / `--name=value` (the last one), else undefined. */
function option(args: string[], name: string): string | undefined {
  let value: string | undefined;
  args.forEach((a, i) => {
    if (a === name) value = args[i + 1];
    else if (a.startsWith(`${name}=`)) value = a.slice(name.length + 1);
  });
  return value;
}

function options(args: string[], name: string): string[] {
  return args.flatMap((a, i) => (a === name ? [args[i + 1]!] : a.startsWith(`${name}=`) ? [a.slice(name.length + 1)] : []));
}

/** The STATE column of `check`'s route table: route name → `ok` or `disabled: …`. */
function routeStates(stdout: string): Map<string, string> {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => l.startsWith('ROUTE '));
  const states = new Map<string, string>();
  for (const l of lines.slice(head + 1)) {
    const m = /^(\S+)\s.*?\s(ok|disabled: .*)$/.exec(l);
    if (!m) break;
    states.set(m[1]!, m[2]!);
  }
  return states;
}

interface Step {
  command: ShellCommand;
  args: string[];
  cwd: string;
  result: CliResult;
}

/** Checks that follow a successful ai-relay command, by subcommand. */
async function afterCommand(step: Step, env: Record<string, string>): Promise<void> {
  const { command, args, cwd, result } = step;
  const at = `${where(command)}\n${describeResult(result)}`;
  switch (args[0]) {
    case 'check': {
      const config = option(args, '--config') ?? 'proxy.config.yaml';
      expect(result.stdout, at).toContain(`${config}: OK`);
      break;
    }
    case 'init': {
      const dir = path.resolve(cwd, option(args, '--dir') ?? '.');
      for (const f of ['proxy.config.yaml', '.env.example']) expect(existsSync(path.join(dir, f)), `${at}\n${f} not written`).toBe(true);
      expect(result.stdout, at).toContain(`(preset ${option(args, '--preset') ?? 'openai'})`);
      break;
    }
    case 'gen-cert': {
      const out = path.resolve(cwd, option(args, '--out') ?? 'certs');
      const certFile = path.join(out, 'cert.pem');
      const keyFile = path.join(out, 'key.pem');
      expect(existsSync(certFile) && existsSync(keyFile), `${at}\ncert.pem/key.pem not in ${out}`).toBe(true);
      expect(statSync(keyFile).mode & 0o777, `${at}\nkey.pem mode`).toBe(0o600);
      const certPem = readFileSync(certFile, 'utf8');
      const cert = new X509Certificate(certPem);
      expect(result.stdout, `${at}\nfingerprint not printed`).toContain(cert.fingerprint256);
      const hosts = options(args, '--host');
      for (const h of hosts.length ? hosts : ['localhost', '127.0.0.1', '::1']) {
        expect(isIP(h) ? cert.checkIP(h) : cert.checkHost(h), `${at}\n${h} is not in the SANs: ${cert.subjectAltName}`).toBeTruthy();
      }
      // The same command again must refuse (exit 1) and leave the pair alone.
      const again = await runCli(args, { cwd, env });
      expect(again.code, `${where(command)} (run a second time, without --force)\n${describeResult(again)}`).toBe(1);
      expect(again.stderr, `${where(command)} (run a second time): the refusal should name --force`).toContain('--force');
      expect(readFileSync(certFile, 'utf8'), `${where(command)} (run a second time): cert.pem was changed`).toBe(certPem);
      break;
    }
  }
}

/**
 * `ai-relay serve …` as shown, on 127.0.0.1 and a free port (`--host`/`--port` win over the
 * config): it must come up and answer /health, then exit 0 on SIGTERM.
 */
async function serveBriefly(args: string[], cwd: string, env: Record<string, string>): Promise<CliResult> {
  const p = await startCli([...args, '--host', '127.0.0.1', '--port', '0'], { cwd, env });
  children.push(p);
  try {
    const [, url] = await p.waitFor(/listening on (https?:\/\/[^\s"]+)/, 10_000);
    if (url!.startsWith('http:')) expect((await fetch(`${url}/health`)).status, `/health of ${url}`).toBe(200);
  } catch (err) {
    p.child.kill('SIGKILL');
    return { ...(await p.exited), stderr: `${p.stderr()}\n${(err as Error).message}` };
  }
  p.child.kill('SIGTERM');
  return p.exited;
}

/** Runs a shell session (see the header for the rules); returns the ai-relay steps it ran. */
async function runSession(commands: ShellCommand[], dir: string, env: Record<string, string> = {}): Promise<{ steps: Step[]; cwd: string }> {
  let cwd = dir;
  const at = (p: string) => (path.isAbsolute(p) ? path.join(dir, p) : path.resolve(cwd, p));
  const steps: Step[] = [];
  for (const c of commands) {
    const args = relayArgs(c.argv);
    if (args) {
      const result = args[0] === 'serve' ? await serveBriefly(args, cwd, env) : await runCli(args, { cwd, env });
      expect(result.code, `${where(c)}\n${describeResult(result)}`).toBe(0);
      const step = { command: c, args, cwd, result };
      await afterCommand(step, env);
      steps.push(step);
      continue;
    }
    const [prog, ...rest] = c.argv;
    const operands = rest.filter((a) => !a.startsWith('-'));
    if (prog === 'cd') cwd = at(operands[0]!);
    else if (prog === 'mkdir') for (const d of operands) mkdirSync(at(d), { recursive: true });
    else if (prog === 'cp') copyFileSync(at(operands[0]!), at(operands[1]!));
    // An octal mode is applied; a symbolic one (`chmod +x` on the binary scp would have put
    // there) has nothing to act on: ai-relay is the CLI under test here.
    else if (prog === 'chmod') {
      if (/^[0-7]{3,4}$/.test(rest[0]!)) for (const f of rest.slice(1)) chmodSync(at(f), parseInt(rest[0]!, 8));
    } else if (!(prog! in SKIPPED_PROGRAMS)) throw new Error(`${where(c)}: \`${prog}\` is neither ai-relay, emulated (${[...EMULATED].join(', ')}) nor in SKIPPED_PROGRAMS`);
  }
  return { steps, cwd };
}

// ---------------------------------------------------------------------------------------------
// YAML snippets
// ---------------------------------------------------------------------------------------------

interface Wrapped {
  shape: 'config' | 'routes' | 'route keys';
  text: string;
  /** Lines added before the snippet: wrapped line N is README line fence.line + N - before. */
  before: number;
  vars: string[];
}

function wrapSnippet(fence: Fence): Wrapped {
  const lines = fence.body.map((l) => l.text);
  const text = lines.join('\n');
  // The shape is judged the way the relay parses (src/config/load.ts): `${VAR}` may stand
  // where YAML would read `{` as a flow mapping, so it is protected first.
  const parsed: unknown = parseYaml(text.replace(/\$\{([^}]*)\}/g, '$$⟦$1⟧'));
  const indent = Math.min(...lines.filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => /^ */.exec(l)![0].length));
  const reindent = (by: number) => lines.map((l) => (l.trim() ? ' '.repeat(by) + l.slice(Math.min(indent, /^ */.exec(l)![0].length)) : l));
  let shape: Wrapped['shape'];
  let head: string[] = [];
  let body = lines;
  if (Array.isArray(parsed)) {
    shape = 'routes';
    head = ['routes:'];
    body = reindent(2);
  } else if (indent === 0 && parsed && typeof parsed === 'object' && Object.keys(parsed).every((k) => TOP_LEVEL_KEYS.has(k))) {
    // Only a snippet written at column 0 is a whole config: an indented `cache:` is a route's.
    shape = 'config';
  } else if (parsed && typeof parsed === 'object') {
    shape = 'route keys';
    const has = (k: string) => k in parsed;
    head = [
      'routes:',
      '  - name: readme-snippet',
      ...(has('prefix') ? [] : ['    prefix: /readme-snippet']),
      ...(has('upstream') ? [] : ['    upstream: https://api.example.com']),
      ...(has('auth') ? [] : ['    auth: none']),
    ];
    if (has('name')) head.splice(1, 1, '  -');
    body = reindent(4);
  } else {
    throw new Error(`${README}:${fence.line}: a YAML snippet that is neither a mapping nor a list`);
  }
  const tail = parsed && typeof parsed === 'object' && !Array.isArray(parsed) && 'clients' in parsed ? [] : ['clients: { web: ${PROXY_TOKEN} }'];
  const full = [...head, ...body, ...tail].join('\n') + '\n';
  const vars = [...new Set([...full.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
  // The fence line itself is not in the body: body line k is README line fence.line + k.
  return { shape, text: full, before: head.length, vars };
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'ai-relay-readme-'));
  standInCa = (await generateCertificate({ hosts: ['localhost'], days: 30, keyType: 'ec' })).certPem;
});

afterAll(async () => {
  for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(children.map((p) => p.exited));
  rmSync(tmpRoot, { recursive: true, force: true });
});

describe('README.md commands', () => {
  it('shows ai-relay commands (the suite never silently tests nothing)', () => {
    expect(relayCommands.length, 'no `ai-relay …` command found in README.md').toBeGreaterThan(0);
    expect(yamlBlocks.length, 'no ```yaml snippet found in README.md').toBeGreaterThan(0);
  });

  it('every shell line is ai-relay, emulated, or skipped by a listed rule', () => {
    for (const c of [...shellBlocks.flatMap((b) => b.commands), ...inlineCommands]) {
      const prog = c.argv[0]!;
      expect(relayArgs(c.argv) !== undefined || EMULATED.has(prog) || prog in SKIPPED_PROGRAMS, `${where(c)}: add \`${prog}\` to a rule`).toBe(true);
    }
  });

  it('lets a reader try every init preset of the spec', () => {
    const presets = shellBlocks.flatMap((b) => blockVariants(b.commands)).flatMap((v) => v.commands.flatMap((c) => option(relayArgs(c.argv) ?? [], '--preset') ?? []));
    expect([...new Set(presets)].sort()).toEqual([...SPEC_PRESETS].sort());
  });

  for (const { fence, commands } of shellBlocks) {
    if (!commands.some((c) => relayArgs(c.argv))) continue;
    for (const variant of blockVariants(commands)) {
      it(`${README}:${fence.line} shell block${variant.name ? ` with ${variant.name}` : ''}`, async () => {
        const dir = sandbox(`block-${fence.line}-${variant.name}`);
        const { steps } = await runSession(variant.commands, dir);
        const init = steps.find((s) => s.args[0] === 'init');
        const check = steps.filter((s) => s.args[0] === 'check').at(-1);
        if (!init || !check) return;
        // init then check: every route the preset wrote is enabled, except that the GigaChat
        // route waits for the CA file the README and init tell the user to download.
        const preset = option(init.args, '--preset') ?? 'openai';
        const at = `${where(check.command)} after ${where(init.command)}\n${describeResult(check.result)}`;
        const states = routeStates(check.result.stdout);
        expect(states.size, at).toBeGreaterThan(0);
        for (const [route, state] of states) {
          if (route === 'gigachat') expect(state, at).toMatch(/^disabled: .*russian_trusted_root_ca\.pem/);
          else expect(state, at).toBe('ok');
        }
        if (states.has('gigachat')) {
          expect(init.result.stdout, `${where(init.command)}: init should print where the CA goes`).toContain('russian_trusted_root_ca.pem');
          placeStandInCa(check.cwd);
          const again = await runCli(check.args, { cwd: check.cwd });
          expect(again.code, `${at}\n(again, with the CA in certs/)\n${describeResult(again)}`).toBe(0);
          expect([...routeStates(again.stdout).values()], `${where(check.command)} with the CA in certs/ (preset ${preset})\n${again.stdout}`).toEqual(
            [...states.keys()].map(() => 'ok'),
          );
        }
      });
    }
  }

  for (const c of inlineCommands) {
    it(`${where(c)} (inline)`, async () => {
      await runSession([c], sandbox(`inline-${c.line}`));
    });
  }
});

describe('README.md YAML snippets pass ai-relay check', () => {
  it('every NOT_CHECKED entry matches exactly one snippet', () => {
    for (const n of NOT_CHECKED) {
      expect(yamlBlocks.filter((f) => f.body.some((l) => l.text.includes(n.contains))).length, n.contains).toBe(1);
    }
  });

  for (const fence of yamlBlocks) {
    const skip = NOT_CHECKED.find((n) => fence.body.some((l) => l.text.includes(n.contains)));
    if (skip) {
      it.skip(`${README}:${fence.line} (not checked: ${skip.reason})`, () => {});
      continue;
    }
    it(`${README}:${fence.line} yaml snippet`, async () => {
      const w = wrapSnippet(fence);
      const dir = sandbox(`yaml-${fence.line}`);
      placeStandInCa(dir);
      const file = `readme-${fence.line}.yaml`;
      writeFileSync(path.join(dir, file), w.text);
      const env = Object.fromEntries(w.vars.map((v) => [v, DUMMY_VALUES[v] ?? `readme-test-${v.toLowerCase().replace(/_/g, '-')}`]));
      const r = await runCli(['check', '--config', file], { cwd: dir, env });
      // Point `check`'s FILE:LINE:COL back at the README.
      const toReadme = (s: string) =>
        s.replace(new RegExp(`${file.replace('.', '\\.')}:(\\d+)`, 'g'), (_, n: string) => {
          const k = Number(n) - w.before;
          return k >= 1 && k <= fence.body.length ? `${README}:${fence.line + k}` : `${file}:${n} (added by the test)`;
        });
      const at = `${README}:${fence.line}: the ${w.shape} snippet fails ai-relay check\n${toReadme(describeResult(r))}\n--- checked as\n${w.text}`;
      expect(r.code, at).toBe(0);
      for (const [route, state] of routeStates(r.stdout)) expect(`${route}: ${state}`, at).toBe(`${route}: ok`);
    });
  }
});

describe('commands the README relies on', () => {
  it('--version prints the package.json version', async () => {
    const r = await runCli(['--version'], { cwd: tmpRoot });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('the README gen-cert line without --host: the default names', async () => {
    const c = relayCommands.find((x) => relayArgs(x.argv)![0] === 'gen-cert');
    expect(c, 'README.md shows no `ai-relay gen-cert` command').toBeDefined();
    const args = relayArgs(c!.argv)!.filter((a, i, all) => a !== '--host' && all[i - 1] !== '--host' && !a.startsWith('--host='));
    const noHost = { ...c!, argv: ['ai-relay', ...args], source: `${c!.source}  (without --host)` };
    await runSession([noHost], sandbox('gen-cert-no-host'));
  });

  it('serve with the README HTTPS snippet and no files yet: generates the pair and answers /health over HTTPS', async () => {
    const fence = yamlBlocks.find((f) => f.body.some((l) => /selfSigned:\s*true/.test(l.text)));
    expect(fence, 'README.md shows no server.tls snippet with selfSigned: true').toBeDefined();
    const snippet = parseYaml(fence!.body.map((l) => l.text).join('\n')) as { server: { tls: { cert: string; key: string } } };
    const dir = sandbox('serve-tls');
    const config = { ...snippet, server: { ...snippet.server, host: '127.0.0.1' }, routes: [] };
    writeFileSync(path.join(dir, 'tls.yaml'), stringifyYaml(config));
    const certFile = path.join(dir, snippet.server.tls.cert);
    const keyFile = path.join(dir, snippet.server.tls.key);
    expect(existsSync(certFile) || existsSync(keyFile)).toBe(false);

    const p = await startCli(['serve', '--config', 'tls.yaml', '--port', '0'], { cwd: dir });
    children.push(p);
    const at = () => `${README}:${fence!.line}: serve with this server.tls\n${p.stdout()}${p.stderr()}`;
    const port = Number((await p.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)/, 10_000).catch((e: Error) => expect.fail(`${at()}\n${e.message}`)))[1]);

    expect(statSync(keyFile).mode & 0o777, at()).toBe(0o600);
    const certPem = readFileSync(certFile, 'utf8');
    const fingerprint = new X509Certificate(certPem).fingerprint256;
    expect(p.stdout() + p.stderr(), `${at()}\nthe fingerprint is not logged`).toContain(fingerprint);

    const res = await new Promise<{ status: number; body: string; peer: string }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/health', ca: certPem, timeout: 5000 }, (r) => {
        const peer = (r.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body, peer }));
      });
      req.on('timeout', () => req.destroy(new Error('no /health answer within 5 s')));
      req.on('error', reject);
    });
    expect(res.status, `${at()}\n${res.body}`).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ok', version: VERSION });
    expect(res.peer).toBe(fingerprint);

    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });
});
