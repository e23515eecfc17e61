/**
 * One root pino logger. Lines are written in-process (no worker transports: they cannot load
 * inside the single executable) through a stream that scrubs secrets from the finished line, so
 * no field, message or error can leak a configured secret, at any level.
 */
import pino from 'pino';
import { Redactor, SECRET_HEADERS } from './redact.js';
import { prettyLine } from './pretty.js';

export type Logger = pino.Logger;

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'pretty' | 'json';
  redactor: Redactor;
  /** Where lines go; default stdout. Tests pass a collecting stream. */
  destination?: NodeJS.WritableStream;
  /** Static fields on every line (e.g. worker id). */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions): Logger {
  const target = opts.destination ?? stdoutSink();
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && Boolean(process.stdout.isTTY) && !opts.destination);
  const { redactor } = opts;
  // A plain object with write() (pino's minimal destination contract): no stream machinery per
  // line on the hot path — the access log writes one line per exchange.
  const stream = {
    write(line: string) {
      if (redactor.size) line = redactor.scrub(line);
      if (pretty) line = prettyLine(line);
      target.write(line);
    },
  };
  return pino(
    {
      level: opts.level,
      base: opts.base ?? null,
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: header objects that reach the logger lose their secret values by name.
      redact: {
        paths: [...SECRET_HEADERS].flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`, `res.headers["${h}"]`]),
        censor: '[redacted]',
      },
    },
    stream,
  );
}

/** A logger that drops everything (library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

let lastMs = -1;
let lastStamp = '';

/**
 * pino's isoTime, cached per millisecond: under load several lines share a millisecond, and
 * `toISOString()` was ~1 % of the relay's CPU. Same text as pino.stdTimeFunctions.isoTime.
 */
function isoTime(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastStamp = `,"time":"${new Date(ms).toISOString()}"`;
  }
  return lastStamp;
}

let stdout: NodeJS.WritableStream | undefined;

/**
 * stdout through SonicBoom, asynchronous and buffered: many lines per syscall instead of one per
 * exchange. pino flushes it synchronously on exit. A TTY stays synchronous (interactive).
 * (A synchronous SonicBoom with the same 4 KiB batches looked cheaper in the main-thread profile
 * but measured ~5 % more process CPU per request: while an asynchronous write is in flight the
 * next batch grows, so there are fewer writes. Measured in issue #8.)
 */
function stdoutSink(): NodeJS.WritableStream {
  if (process.stdout.isTTY) return process.stdout;
  if (!stdout) {
    // Lines collect up to 4 KiB before a write (one syscall per ~15 access lines under load); a
    // timer flushes a quiet relay's lines within 200 ms.
    const sonic = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    setInterval(() => {
      try {
        sonic.flush();
      } catch {
        /* nothing buffered, or a write in flight: the next tick will do */
      }
    }, 200).unref();
    stdout = sonic as unknown as NodeJS.WritableStream;
  }
  return stdout;
}
