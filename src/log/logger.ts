/**
 * One root pino logger. Lines are written in-process (no worker transports: they cannot load
 * inside the single executable) through a stream that scrubs secrets from the finished line, so
 * no field, message or error can leak a configured secret, at any level.
 */
import pino from 'pino';
import { Writable } from 'node:stream';
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
  const dest = opts.destination ?? process.stdout;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && Boolean((dest as { isTTY?: boolean }).isTTY));
  const { redactor } = opts;
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      let line = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      if (redactor.size) line = redactor.scrub(line);
      if (pretty) line = prettyLine(line);
      dest.write(line);
      cb();
    },
  });
  return pino(
    {
      level: opts.level,
      base: opts.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
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
