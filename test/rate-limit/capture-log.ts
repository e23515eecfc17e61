/** A real pino logger whose JSON lines are kept in memory, for asserting on what was logged. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';

export function captureLogger(): { log: Logger; lines(): { level: string; msg: string; [k: string]: unknown }[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json', redactor: new Redactor(), destination });
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; msg: string }),
  };
}
