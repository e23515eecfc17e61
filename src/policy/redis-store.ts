/**
 * One Redis connection (ioredis) used as a shared rate-limit store, with the rules that keep a
 * Redis problem from becoming a relay problem:
 *
 * - never hang a request: no offline queue (a command while disconnected fails at once), no
 *   per-command retries, `commandTimeout`, and consume() additionally races its own deadline;
 * - reconnect forever by itself, backing off to 2 s;
 * - one warning when an outage starts and one info line when it ends — not one per request;
 * - the URL is logged without its password.
 *
 * The bucket update is one Lua script (refill + take + expire), atomic in Redis, timed with
 * Redis' own clock (TIME) so relays with skewed clocks still agree on every bucket.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { cjsExports } from '../util/cjs-interop.js';

type RedisClass = typeof import('ioredis').Redis;
let ioredis: Promise<RedisClass> | undefined;

/**
 * ioredis (~40 modules) is imported on the first Redis store, not at startup: most configs keep
 * rate limits in memory and should not pay for it (docs/benchmarks.md, "Cold start").
 */
function loadRedis(): Promise<RedisClass> {
  ioredis ??= import('ioredis').then((m) => cjsExports<typeof import('ioredis')>(m).Redis);
  return ioredis;
}

/**
 * KEYS[1] bucket key. ARGV: cap, cost, refill (units, see rate-limit-bucket.ts).
 * Returns { allowed (0|1), level after the take as a decimal string }.
 * The hash stores the level (`l`) and the server time in ms it was computed at (`t`). The key
 * expires when the bucket would be full again: a missing key means a full bucket.
 */
const TAKE_SCRIPT = `
local cap = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local refill = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local saved = redis.call('HMGET', KEYS[1], 'l', 't')
local level = tonumber(saved[1])
local at = tonumber(saved[2])
if level == nil or at == nil then
  level = cap
elseif now > at then
  level = math.min(cap, level + (now - at) * refill)
end
local allowed = 0
if level >= cost then
  level = level - cost
  allowed = 1
end
local lvl = string.format('%.0f', level)
redis.call('HSET', KEYS[1], 'l', lvl, 't', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((cap - level) / refill)))
return { allowed, lvl }
`;

interface TakeCommand {
  aiRelayTake(key: string, cap: number, cost: number, refill: number): Promise<[number, string]>;
}

export interface RedisStoreOptions {
  log: Logger;
  /** Upper bound for one bucket update, connect wait included. Default 300 ms. */
  timeoutMs?: number;
  /** Called when the last user released the store (registry bookkeeping). */
  onIdle?: () => void;
  /** How log lines name the store (default `rate-limit store`). */
  label?: string;
}

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** `redis://user:secret@host:6379/0` → `redis://host:6379/0` for logs and errors. */
export function displayRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'redis://[invalid url]';
  }
}

export class RedisStore {
  readonly url: string;
  private client: (Redis & TakeCommand) | undefined;
  private readonly clientReady: Promise<Redis & TakeCommand>;
  private log: Logger;
  private readonly timeoutMs: number;
  private readonly onIdle: (() => void) | undefined;
  private readonly label: string;
  private refs = 0;
  private down = false;
  private closed = false;
  /** Only awaited before the first connection attempt has settled. */
  private firstReady: Promise<void>;
  private everReady = false;

  constructor(url: string, opts: RedisStoreOptions) {
    this.url = displayRedisUrl(url);
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 300;
    this.onIdle = opts.onIdle;
    this.label = opts.label ?? 'rate-limit store';
    // The client exists once ioredis is loaded (a few ms after the first store is made);
    // takes wait for it within their deadline, like for the first connection.
    this.clientReady = loadRedis().then((Redis) => this.connect(Redis, url));
    // Settles on the first 'ready' or 'error', whichever comes first: a refused first connect
    // should fail the waiting takes at once, not at their deadline.
    this.firstReady = this.clientReady.then(
      (client) =>
        new Promise<void>((resolve) => {
          const done = () => {
            client.off('ready', done);
            client.off('error', done);
            resolve();
          };
          client.on('ready', done);
          client.on('error', done);
        }),
      (err: Error) => this.markDown(err),
    );
  }

  private connect(Redis: RedisClass, url: string): Redis & TakeCommand {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.timeoutMs,
      connectTimeout: 2000,
      connectionName: 'ai-relay',
      // Reconnect forever: 100 ms, 200 ms, … capped at 2 s.
      retryStrategy: (times) => Math.min(100 * times, 2000),
      // Released before ioredis finished loading: never open the connection.
      lazyConnect: this.closed,
    }) as Redis & TakeCommand;
    client.defineCommand('aiRelayTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    client.on('ready', () => {
      this.everReady = true;
      this.markUp();
    });
    // Without an 'error' listener ioredis prints every reconnect failure to the console.
    client.on('error', (err: Error) => this.markDown(err));
    client.on('close', () => {
      if (!this.closed && this.everReady) this.markDown(new Error('connection closed'));
    });
    this.client = client;
    return client;
  }

  /**
   * One more user. The newest user's logger wins: after a config reload the old relay's logger
   * may be gone, and in one process every relay logs to the same place anyway.
   */
  acquire(log?: Logger): this {
    if (log) this.log = log;
    this.refs++;
    return this;
  }

  /**
   * Refill and take one token, atomically in Redis. Resolves [allowed, level]; rejects with
   * StoreUnavailableError within `timeoutMs` when Redis cannot answer.
   */
  async take(key: string, cap: number, cost: number, refill: number): Promise<[boolean, number]> {
    const [allowed, level] = await this.run((client) => client.aiRelayTake(key, cap, cost, refill));
    return [allowed === 1, Number(level)];
  }

  /**
   * Runs one command (or a few) on the connection with the store's rules: a deadline
   * (`timeoutMs`, default the store's), the first connection awaited within it, an outage logged
   * once. Rejects with StoreUnavailableError; never hangs. The response cache uses this.
   */
  async run<T>(fn: (client: Redis & TakeCommand) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`${this.label} ${this.url} is closed`);
    // The deadline also tells a command still waiting for the first connection to give up, so
    // it cannot act (spend a token, write an entry) long after its request was answered.
    const state = { expired: false };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        state.expired = true;
        reject(new StoreUnavailableError(`${this.label} ${this.url} did not answer within ${timeoutMs}ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.runNow(fn, state), timeout]);
    } catch (err) {
      this.markDown(err as Error);
      throw err instanceof StoreUnavailableError
        ? err
        : new StoreUnavailableError(`${this.label} ${this.url}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async runNow<T>(fn: (client: Redis & TakeCommand) => Promise<T>, state: { expired: boolean }): Promise<T> {
    // At startup the connection may still be on its way: wait for it (within the deadline)
    // rather than declaring an outage on the first request. During an outage, fail at once.
    const client = this.client ?? (await this.clientReady);
    if (!this.everReady && !this.down && client.status !== 'ready') {
      await this.firstReady;
      if (state.expired) throw new StoreUnavailableError('gave up waiting for the first connection');
    }
    if (state.expired) throw new StoreUnavailableError('deadline passed');
    const out = await fn(client);
    this.markUp();
    return out;
  }

  /**
   * Runs a Lua script under the same rules as take() (deadline, no queueing, one warning per
   * outage). Defined on the connection at first use, so ioredis sends it by SHA afterwards.
   * Budgets use it (src/budgets/redis-store.ts). Rejects with StoreUnavailableError.
   */
  async runScript(name: string, lua: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.run((client) => {
      const commands = client as unknown as Record<string, ((...a: (string | number)[]) => Promise<unknown>) | undefined>;
      if (typeof commands[name] !== 'function') client.defineCommand(name, { lua });
      return commands[name]!(keys.length, ...keys, ...args);
    });
  }

  private markDown(err: Error): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.log.warn(
      { store: this.url, err: err.message },
      this.label === 'rate-limit store'
        ? `rate-limit store ${this.url} is unreachable; applying onStoreError until it is back (reconnecting)`
        : `${this.label} ${this.url} is unreachable; serving from upstream until it is back (reconnecting)`,
    );
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.log.info({ store: this.url }, `${this.label} ${this.url} is reachable again`);
  }

  /** True while an outage is in progress (for /ready and tests). */
  get unavailable(): boolean {
    return this.down;
  }

  /** Drop one reference; the last one closes the connection. */
  async release(): Promise<void> {
    if (--this.refs > 0 || this.closed) return;
    this.closed = true;
    this.onIdle?.();
    const client = this.client ?? (await this.clientReady.catch(() => undefined));
    if (!client) return;
    if (client.status === 'ready') {
      // QUIT lets Redis close cleanly; bounded, then cut regardless.
      await Promise.race([client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, this.timeoutMs))]);
    }
    client.disconnect();
  }
}
