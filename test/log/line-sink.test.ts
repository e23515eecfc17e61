// The batched stdout sink behind the access log: every line arrives, in order, whole — also
// when the process exits right after logging, and for a line larger than the batch buffer.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LineSink } from '../../src/log/line-sink.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'line-sink-'));
const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('LineSink', () => {
  it('writes 50,000 lines in order, batched, including one larger than its buffer', async () => {
    const file = join(tmp(), 'out.log');
    const fd = openSync(file, 'w');
    const sink = new LineSink(fd, 20);
    const big = 'x'.repeat(100_000);
    const expected: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const line = i === 25_000 ? `{"i":${i},"big":"${big}"}` : `{"i":${i},"msg":"GET /api/v1/чат ${i}"}`;
      expected.push(line);
      sink.write(`${line}\n`);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => readFileSync(file, 'utf8').split('\n').length === expected.length + 1);
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe(`${expected.join('\n')}\n`);
  });

  it('a quiet relay still gets its line out within flushMs', async () => {
    const file = join(tmp(), 'quiet.log');
    const fd = openSync(file, 'w');
    const sink = new LineSink(fd, 30);
    sink.write('{"msg":"one"}\n');
    expect(readFileSync(file, 'utf8')).toBe(''); // batched, not written at once
    await waitFor(() => readFileSync(file, 'utf8') === '{"msg":"one"}\n', 2000);
    closeSync(fd);
  });

  // ~11 KB: below the batch size, so nothing is in flight and only the exit flush can write it.
  it('flushes what is buffered when the process exits right after logging', () => {
    const file = join(tmp(), 'exit.log');
    // The built module (npm ci builds dist/): a child process cannot load the TypeScript source.
    const mod = fileURLToPath(new URL('../../dist/log/line-sink.js', import.meta.url));
    const script = `import { openSync } from 'node:fs'; import { LineSink } from ${JSON.stringify(mod)};
      const s = new LineSink(openSync(${JSON.stringify(file)}, 'w'));
      for (let i = 0; i < 1000; i++) s.write('{"i":' + i + '}\\n');
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1000);
    expect(lines.at(-1)).toBe('{"i":999}');
  });
});
