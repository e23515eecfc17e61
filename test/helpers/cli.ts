/**
 * Runs the real CLI in a child process: `bin/ai-relay.js`, the file npm puts on the PATH, after
 * the real `npm run build` (test/global-build.ts runs it when dist/ is stale). Never a bundle made
 * differently for the tests (issue #15: such a bundle hid a broken `gen-cert`). Signals, exit
 * codes, stdout and stderr are the real thing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_BIN = path.join(ROOT, 'bin', 'ai-relay.js');

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
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI_BIN, ...args], {
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
