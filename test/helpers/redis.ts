/**
 * A real, throwaway redis-server for tests: a free port on 127.0.0.1, no persistence
 * (`--save '' --appendonly no`), its own temp dir. `kill()` SIGKILLs it (an outage as the relay
 * sees one) and `start()` brings it back on the same port.
 *
 * Availability: outside CI a missing redis-server skips the Redis tests with a printed reason;
 * under CI=true it is a failure (`.ci/run` installs the Debian package), so the suite can never
 * turn green by silently testing nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REDIS_BIN = process.env.REDIS_SERVER ?? 'redis-server';

export interface ToolCheck {
  available: boolean;
  /** Why the tests skip (outside CI) — printed once. */
  reason: string;
  /** Under CI=true a missing tool must fail the run. */
  mustFail: boolean;
}

export function checkRedis(): ToolCheck {
  const r = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8', timeout: 5000 });
  const available = r.status === 0;
  const reason = available ? '' : `${REDIS_BIN} not found (apt-get install redis-server): Redis store tests skipped`;
  if (!available && process.env.CI !== 'true') console.warn(`[skip] ${reason}`);
  return { available, reason, mustFail: !available && process.env.CI === 'true' };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  /** SIGKILL: the relay sees connections reset and refused, as in a crash. */
  kill(): Promise<void>;
  /** Start again on the same port (empty: no persistence). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const proc = spawn(
      REDIS_BIN,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`redis-server did not start within 5s:\n${out}`));
      }, 5000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
