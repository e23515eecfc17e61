/**
 * The live tail: the last N exchanges in a ring of parallel arrays. Numbers live in typed arrays
 * and strings in plain arrays that are overwritten in place, so recording an exchange allocates no
 * per-entry object for the young generation to promote (see src/server/live-set.ts for why
 * promotion at request rate is costly). Entries carry a sequence number so a feed can send only
 * the ones a browser has not seen yet.
 */
export interface TailEntry {
  seq: number;
  /** Epoch ms the exchange was accepted. */
  time: number;
  route: string | null;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  /** Accept to last byte, ms. */
  duration: number;
  /** Accept to response head, ms (null when no head was sent). */
  ttfb: number | null;
  client: string | null;
  user: string | null;
  usage: { input: number; output: number; total: number; estimated?: boolean } | null;
  cache: string | null;
  outcome: string | null;
}

export interface TailRecord {
  time: number;
  route: string | undefined;
  method: string;
  path: string;
  status: number;
  duration: number;
  ttfb: number;
  client: string | undefined;
  user: string | undefined;
  usage: { input: number; output: number; total: number; estimated?: boolean } | undefined;
  cache: string | undefined;
  outcome: string | undefined;
}

export class Tail {
  private seqNext = 1;
  private readonly time: Float64Array;
  private readonly duration: Float32Array;
  private readonly ttfb: Float32Array;
  private readonly status: Uint16Array;
  private readonly usage: Float64Array; // input, output, total, estimated (0/1/NaN for none)
  private readonly route: (string | undefined)[];
  private readonly method: string[];
  private readonly path: string[];
  private readonly client: (string | undefined)[];
  private readonly user: (string | undefined)[];
  private readonly cache: (string | undefined)[];
  private readonly outcome: (string | undefined)[];

  constructor(readonly capacity: number) {
    this.time = new Float64Array(capacity);
    this.duration = new Float32Array(capacity);
    this.ttfb = new Float32Array(capacity);
    this.status = new Uint16Array(capacity);
    this.usage = new Float64Array(capacity * 4);
    this.route = new Array<string | undefined>(capacity).fill(undefined);
    this.method = new Array<string>(capacity).fill('');
    this.path = new Array<string>(capacity).fill('');
    this.client = new Array<string | undefined>(capacity).fill(undefined);
    this.user = new Array<string | undefined>(capacity).fill(undefined);
    this.cache = new Array<string | undefined>(capacity).fill(undefined);
    this.outcome = new Array<string | undefined>(capacity).fill(undefined);
  }

  /** Sequence number of the newest entry (0 when empty). */
  get lastSeq(): number {
    return this.seqNext - 1;
  }

  push(e: TailRecord): void {
    const i = this.seqNext % this.capacity;
    this.seqNext++;
    this.time[i] = e.time;
    this.duration[i] = e.duration;
    this.ttfb[i] = e.ttfb;
    this.status[i] = e.status;
    const u = e.usage;
    const j = i * 4;
    if (u) {
      this.usage[j] = u.input;
      this.usage[j + 1] = u.output;
      this.usage[j + 2] = u.total;
      this.usage[j + 3] = u.estimated ? 1 : 0;
    } else this.usage[j + 3] = Number.NaN;
    this.route[i] = e.route;
    this.method[i] = e.method;
    this.path[i] = e.path;
    this.client[i] = e.client;
    this.user[i] = e.user;
    this.cache[i] = e.cache;
    this.outcome[i] = e.outcome;
  }

  /** Entries with seq > `after`, oldest first (at most `capacity`). `text` cleans strings. */
  since(after: number, text: (s: string, max: number) => string): TailEntry[] {
    const first = Math.max(after + 1, this.seqNext - this.capacity, 1);
    const out: TailEntry[] = [];
    for (let seq = first; seq < this.seqNext; seq++) {
      const i = seq % this.capacity;
      const j = i * 4;
      const hasUsage = !Number.isNaN(this.usage[j + 3]!);
      const route = this.route[i];
      const client = this.client[i];
      const user = this.user[i];
      const cache = this.cache[i];
      const outcome = this.outcome[i];
      out.push({
        seq,
        time: Math.round(this.time[i]!),
        route: route === undefined ? null : route,
        method: text(this.method[i]!, 16),
        path: text(this.path[i]!, 300),
        status: this.status[i]!,
        duration: round1(this.duration[i]!),
        ttfb: this.ttfb[i]! < 0 ? null : round1(this.ttfb[i]!),
        client: client === undefined ? null : text(client, 100),
        user: user === undefined ? null : text(user, 100),
        usage: hasUsage ? { input: this.usage[j]!, output: this.usage[j + 1]!, total: this.usage[j + 2]!, ...(this.usage[j + 3] === 1 ? { estimated: true } : {}) } : null,
        cache: cache === undefined ? null : text(cache, 16),
        outcome: outcome === undefined ? null : text(outcome, 200),
      });
    }
    return out;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
