/**
 * Runs the real CLI in a child process. The current sources are bundled with esbuild (a few
 * hundred ms, npm packages left external) instead of relying on a dist/ that may be stale, so
 * signals, exit codes, stdout and stderr are the real thing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Inside node_modules so the bundle resolves the external packages from the repo's node_modules.
const OUT_DIR = path.join(ROOT, 'node_modules', '.cache', 'ai-relay-cli-test');

let built: Promise<string> | undefined;

export function cliBundle(): Promise<string> {
  built ??= (async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    const outfile = path.join(OUT_DIR, `cli-${process.pid}.mjs`);
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    await build({
      stdin: {
        contents: `import { main } from './src/cli/bin.ts';\nmain(process.argv).then((code) => { if (typeof code === 'number') process.exitCode = code; });\n`,
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      define: { __AI_RELAY_VERSION__: JSON.stringify(version) },
      outfile,
      logLevel: 'error',
    });
    process.once('exit', () => rmSync(outfile, { force: true }));
    return outfile;
  })();
  return built;
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
  const file = await cliBundle();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), file, ...args], {
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
