/** README.md and README.ru.md are generated from the same fragments and must stay in step. */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error — plain .mjs script without types
import { build, SECTIONS } from '../../scripts/readme.mjs';

describe('README', () => {
  it('every English fragment has a Russian twin with the same number of sections', () => {
    const files = readdirSync('docs/readme');
    for (const f of files.filter((n) => n.endsWith('.en.md'))) {
      const ru = f.replace('.en.md', '.ru.md');
      expect(files, `${ru} is missing`).toContain(ru);
      const count = (p: string) => (readFileSync(`docs/readme/${p}`, 'utf8').match(/^##+ /gm) ?? []).length;
      expect(count(ru), `${f} and ${ru} differ in headings`).toBe(count(f));
      expect(SECTIONS, `${f} is not placed in scripts/readme.mjs`).toContain(f.replace('.en.md', ''));
    }
  });

  it('README.md and README.ru.md are up to date (npm run docs:readme)', () => {
    expect(readFileSync('README.md', 'utf8')).toBe(build('en'));
    expect(readFileSync('README.ru.md', 'utf8')).toBe(build('ru'));
  });
});
