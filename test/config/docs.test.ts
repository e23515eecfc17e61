/**
 * docs/config.md is generated from the schema (npm run docs:config); this fails when someone
 * changed the schema without regenerating, and checks the generator covers every key.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema, routeSchema, serverSchema, limitsSchema, corsSchema } from '../../src/config/schema.js';
import { renderConfigDocs } from '../../scripts/gen-config-docs.js';

const committed = () => readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');

describe('docs/config.md', () => {
  it('is up to date with src/config/schema.ts (run `npm run docs:config`)', () => {
    expect(committed()).toBe(renderConfigDocs(configSchema));
  });

  it('documents every key of the main sections with its default and unit', () => {
    const doc = renderConfigDocs(configSchema);
    for (const s of [configSchema, routeSchema, serverSchema, limitsSchema, corsSchema]) {
      for (const key of Object.keys((s as unknown as { shape: Record<string, unknown> }).shape)) expect(doc).toContain(`| \`${key}\` |`);
    }
    expect(doc).toMatch(/\| `maxBodySize` \| size [^|]*\| `32mb` \| Largest request body/);
    expect(doc).toMatch(/\| `firstByteTimeout` \| duration [^|]*\| `2m` \|/);
    expect(doc).toMatch(/\| `auth` \| `none` \\\| list of string \| \*\*required\*\* \|/);
  });
});
