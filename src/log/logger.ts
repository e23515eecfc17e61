/**
 * One root pino logger. Lines are written in-process (no worker transports: they cannot load
 * inside the single executable) through a stream that scrubs secrets from the finished line, so
 * no field, message or error can leak a configured secret, at any level.
 */
import pino from 'pino';
import { Redactor, SECRET_HEADERS } from './redact.js';
import { prettyLine } from './pretty.js';
import { LineSink } from './line-sink.js';

export type Logger = pino.Logger;

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'pretty' | 'json';
  redactor: Redactor;
  /** Where lines go; default stdout. Tests pass a collecting stream. */
  destination?: { write(line: string): unknown };
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
  const logger = pino(
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
  // The access log's fast path (access-log.ts): a line built by hand goes through the same
  // scrub → pretty → sink stream as pino's own lines.
  const baseJson = Object.entries(opts.base ?? {}).map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join('');
  (logger as RawLogger)[RAW_LINE] = { prefix: (level) => `{"level":"${level}"${isoTime()}${baseJson}`, write: (line) => stream.write(line) };
  return logger;
}

/** Writes whole JSON lines next to pino's, in its format; only on loggers made by createLogger. */
export interface RawLineWriter {
  /** `{"level":"…","time":"…"` plus the base fields: the start of a line, pino's order. */
  prefix(level: string): string;
  write(line: string): void;
}

const RAW_LINE = Symbol('ai-relay.rawLine');
type RawLogger = Logger & { [RAW_LINE]?: RawLineWriter };

export function rawLineWriter(log: Logger): RawLineWriter | undefined {
  // Own property only: a child logger inherits it through its prototype but has bindings of its own.
  return Object.hasOwn(log, RAW_LINE) ? (log as RawLogger)[RAW_LINE] : undefined;
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

let stdout: { write(line: string): void } | undefined;

/**
 * stdout through a LineSink: asynchronous and batched, many lines per syscall instead of one per
 * exchange, flushed synchronously on exit. A TTY stays synchronous (interactive).
 */
function stdoutSink(): { write(line: string): void } {
  if (process.stdout.isTTY) return process.stdout;
  stdout ??= new LineSink(1);
  return stdout;
}
