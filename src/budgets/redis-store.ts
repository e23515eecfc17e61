/**
 * `budgets.store: redis://…`: spend shared by every relay on one Redis, through the connection
 * registry the rate limiter uses (policy/redis-registry.ts). One atomic Lua script per hold (all
 * the request's budgets at once: checked together, held together, or refused together) and one
 * per settle, so N relays admitting in parallel cannot overspend a budget between a read and a
 * write.
 *
 * A key is a hash: `u` = settled spend, `h:<request id>` = `<amount>:<expires at ms>` per hold
 * in flight. Holds expire by the Redis clock (TIME) and are swept whenever the key is touched; the
 * key itself expires a minute after its window ends (PEXPIREAT), so Redis never keeps old windows.
 * A budgets Redis must not evict keys (maxmemory-policy noeviction): an evicted key is a budget
 * silently reset to zero.
 */
import type { RedisStore } from '../policy/redis-store.js';
import type { BudgetStore, HoldLine, HoldOutcome, LineState, SettleLine } from './store.js';

/** Keys kept this long past their window's end (clock skew between relays). */
const KEY_GRACE_MS = 60_000;

/** Sums the live holds of KEYS[i], deleting expired ones. Shared by both scripts. */
const STATE_FN = `
local function state(key, now)
  local all = redis.call('HGETALL', key)
  local used, held = 0, 0
  for j = 1, #all, 2 do
    local f, v = all[j], all[j + 1]
    if f == 'u' then
      used = tonumber(v) or 0
    else
      local sep = string.find(v, ':', 1, true)
      local amount = tonumber(string.sub(v, 1, sep - 1)) or 0
      local untilMs = tonumber(string.sub(v, sep + 1)) or 0
      if untilMs <= now then redis.call('HDEL', key, f) else held = held + amount end
    end
  end
  return used, held
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * ARGV: hold id, hold ttl ms, then per key: limit, amount, requests (1|0), expireAt ms.
 * Returns {1, used1, held1, hold1, used2, …} or {0, index, used, held}.
 */
const HOLD_SCRIPT = `${STATE_FN}
local n = #KEYS
local used, held = {}, {}
for i = 1, n do
  used[i], held[i] = state(KEYS[i], now)
  if used[i] + held[i] >= tonumber(ARGV[3 + (i - 1) * 4]) then
    return {0, i, used[i], held[i]}
  end
end
local out = {1}
for i = 1, n do
  local b = 3 + (i - 1) * 4
  local limit, amount = tonumber(ARGV[b]), tonumber(ARGV[b + 1])
  local take = math.min(amount, limit - used[i] - held[i])
  if ARGV[b + 2] == '1' then
    used[i] = redis.call('HINCRBY', KEYS[i], 'u', take)
  else
    redis.call('HSET', KEYS[i], 'h:' .. ARGV[1], string.format('%d:%d', take, now + tonumber(ARGV[2])))
    held[i] = held[i] + take
  end
  redis.call('PEXPIREAT', KEYS[i], ARGV[b + 3])
  out[#out + 1] = used[i]
  out[#out + 1] = held[i]
  out[#out + 1] = take
end
return out
`;

/** ARGV: hold id, then per key: charge, expireAt ms. */
const SETTLE_SCRIPT = `
for i = 1, #KEYS do
  local charge = tonumber(ARGV[2 + (i - 1) * 2])
  local expireAt = ARGV[3 + (i - 1) * 2]
  redis.call('HDEL', KEYS[i], 'h:' .. ARGV[1])
  if charge > 0 then redis.call('HINCRBY', KEYS[i], 'u', charge) end
  redis.call('PEXPIREAT', KEYS[i], expireAt)
end
return 1
`;

/** Returns {used1, held1, used2, …}; sweeps expired holds on the way. */
const PEEK_SCRIPT = `${STATE_FN}
local out = {}
for i = 1, #KEYS do
  local u, h = state(KEYS[i], now)
  out[#out + 1] = u
  out[#out + 1] = h
end
return out
`;

export class RedisBudgetStore implements BudgetStore {
  private released = false;

  constructor(private readonly redis: RedisStore) {}

  async hold(id: string, lines: HoldLine[], holdTtlMs: number): Promise<HoldOutcome> {
    const args: (string | number)[] = [id, Math.max(1, Math.round(holdTtlMs))];
    for (const l of lines) args.push(l.limit, l.amount, l.requests ? 1 : 0, l.expireAt + KEY_GRACE_MS);
    const r = (await this.redis.runScript('aiRelayBudgetHold', HOLD_SCRIPT, lines.map((l) => l.key), args)) as number[];
    if (r[0] !== 1) return { ok: false, index: Number(r[1]) - 1, used: Number(r[2]), held: Number(r[3]) };
    return {
      ok: true,
      lines: lines.map((_, i) => ({ used: Number(r[1 + i * 3]), held: Number(r[2 + i * 3]), hold: Number(r[3 + i * 3]) })),
    };
  }

  async settle(id: string, lines: SettleLine[]): Promise<void> {
    if (lines.length === 0) return;
    const args: (string | number)[] = [id];
    for (const l of lines) args.push(Math.max(0, Math.round(l.charge)), l.expireAt + KEY_GRACE_MS);
    await this.redis.runScript('aiRelayBudgetSettle', SETTLE_SCRIPT, lines.map((l) => l.key), args);
  }

  async peek(keys: string[]): Promise<LineState[]> {
    if (keys.length === 0) return [];
    const r = (await this.redis.runScript('aiRelayBudgetPeek', PEEK_SCRIPT, keys, [])) as number[];
    return keys.map((_, i) => ({ used: Number(r[i * 2]), held: Number(r[i * 2 + 1]) }));
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.redis.release();
  }
}
