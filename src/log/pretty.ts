/** Human-friendly rendering of one JSON log line, for a terminal. */
import chalk from 'chalk';

const LEVEL_COLOR: Record<string, (s: string) => string> = {
  trace: chalk.gray,
  debug: chalk.blue,
  info: chalk.green,
  warn: chalk.yellow,
  error: chalk.red,
  fatal: chalk.bgRed.white,
};

const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json);
  } catch {
    return json;
  }
  const level = String(o.level ?? 'info');
  const time = typeof o.time === 'string' ? o.time.slice(11, 19) : '';
  const color = LEVEL_COLOR[level] ?? ((s: string) => s);
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${chalk.dim(k + '=')}${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${chalk.dim(time)} ${color(level.toUpperCase().padEnd(5))} ${o.msg ?? ''}${fields ? ' ' + fields : ''}\n`;
}
