/**
 * Runs the real CLI in a child process: `bin/ai-relay.js`, the file npm puts on the PATH, after
 * the real `npm run build` (test/global-build.ts runs it when dist/ is stale). Never a bundle made
 * differently for the tests (issue #15: such a bundle hid a broken `gen-cert`). Signals, exit
 * codes, stdout and stderr are the real thing.
 *
 * AI_RELAY_CLI picks another shipped artifact for the same tests: `tsc` (the tsc output that
 * bin/ai-relay.js falls back to, dist/cli/bin.js) or the path of the single executable
 * (test/binary/readme.test.ts runs the README's commands against both).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_BIN = path.join(ROOT, 'bin', 'ai-relay.js');

let tscRunner: string | undefined;
/** The same lines as bin/ai-relay.js, pointed at the tsc output instead of the bundle. */
export function tscEntry(): string {
  if (tscRunner) return tscRunner;
  const file = path.join(os.tmpdir(), `ai-relay-tsc-bin-${process.pid}.mjs`);
  const main = pathToFileURL(path.join(ROOT, 'dist', 'cli', 'bin.js')).href;
  writeFileSync(file, `const { main } = await import(${JSON.stringify(main)});\nmain(process.argv).then((c) => { process.exitCode = c; });\n`);
  process.once('exit', () => rmSync(file, { force: true }));
  return (tscRunner = file);
}

/** Command and leading arguments for the artifact under test (see the header). */
function cliCommand(nodeArgs: string[]): [string, string[]] {
  const which = process.env.AI_RELAY_CLI;
  if (!which || which === 'bin') return [process.execPath, [...nodeArgs, CLI_BIN]];
  if (which === 'tsc') return [process.execPath, [...nodeArgs, tscEntry()]];
  // A single executable takes no node flags (it reads NODE_OPTIONS only for what SEAs allow).
  return [path.resolve(ROOT, which), []];
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout+stderr match `re` (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<CliResult>;
}

export async function startCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; /** node flags, e.g. --trace-gc */ nodeArgs?: string[] } = {},
): Promise<CliProcess> {
  const [cmd, pre] = cliCommand(opts.nodeArgs ?? []);
  const child = spawn(cmd, [...pre, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(re, ms = 5000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = (out + err).match(re);
        if (m) return m;
        if (Date.now() > end || child.exitCode !== null) throw new Error(`CLI output never matched ${re}:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  const p = await startCli(args, opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `url`/health every `everyMs` until the first 200; throws with the process output when it exits or `ms` pass. */
export async function waitForHealth(url: string, cli: CliProcess, { ms = 15_000, everyMs = 20 }: { ms?: number; everyMs?: number } = {}): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > end || cli.child.exitCode !== null) throw new Error(`no 200 on /health:\n${cli.stdout()}\n${cli.stderr()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
