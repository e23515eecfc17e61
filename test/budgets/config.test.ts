/**
 * Budget config errors come out as FILE:LINE:COL through the loader, and `check`'s route table
 * shows each route's budgets. Sizes like 200k and 20M are accepted.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { describeRoutes } from '../../src/cli/route-table.js';

const route = (budget: string, extra = '') => `clients:
  web: tok-1234
routes:
  - name: openai
    prefix: /openai
    upstream: https://api.openai.com
    auth: [web]${extra}
    budget:
${budget}
`;

function issues(text: string): string[] {
  try {
    parseConfigText(text, 'proxy.config.yaml', { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.file}:${i.line}:${i.col} ${i.message}`);
    throw err;
  }
  return [];
}

describe('budget config', () => {
  it('accepts 200k / 20M, calendar and duration windows', () => {
    const loaded = parseConfigText(route('      - { by: user, tokens: 200k, per: day }\n      - { by: client, tokens: 20M, per: month, count: output }\n      - { by: ip, requests: 300, per: 6h }'), 'p.yaml', { env: {} });
    const b = loaded.config.routes[0]!.budget;
    expect(b.map((x) => [x.tokens, x.requests, x.per, x.hold])).toEqual([[200_000, undefined, 'day', 4096], [20_000_000, undefined, 'month', 4096], [undefined, 300, 6 * 3600_000, 4096]]);
    const table = describeRoutes(loaded, {}).replace(/\x1b\[[0-9;]*m/g, '');
    expect(table).toContain('200k tokens/day by user; 20M tokens/month by client (output); 300 requests/6h by ip');
    expect(table).toContain('budgets kept in memory');
  });
  it('a window that is not one → FILE:LINE:COL', () => {
    expect(issues(route('      - by: user\n        tokens: 100\n        per: fortnight'))).toEqual([expect.stringMatching(/^proxy\.config\.yaml:11:14 routes\.0\.budget\.0\.per: invalid budget window "fortnight"/)]);
  });
  it('a missing window', () => {
    expect(issues(route('      - { by: user, tokens: 100 }'))).toEqual([expect.stringMatching(/^proxy\.config\.yaml:9:9 routes\.0\.budget\.0\.per: is required \(a budget window: day, week, month/)]);
  });
  it('an unknown by', () => {
    expect(issues(route('      - { by: team, tokens: 100, per: day }'))).toEqual([expect.stringMatching(/^proxy\.config\.yaml:9:15 routes\.0\.budget\.0\.by: .*user.*client.*ip/)]);
  });
  it('both tokens and requests, or neither', () => {
    expect(issues(route('      - { by: user, tokens: 100, requests: 5, per: day }'))).toEqual(['proxy.config.yaml:9:9 a budget counts either `tokens` or `requests`, not both; write two budgets']);
    expect(issues(route('      - { by: user, per: day }'))).toEqual(['proxy.config.yaml:9:9 a budget needs `tokens: N` or `requests: N`']);
  });
  it('a tokens budget on a usage: none route; a bad count; a bad time zone', () => {
    expect(issues(route('      - { by: user, tokens: 100, per: day }', '\n    usage: none'))[0]).toMatch(/^proxy\.config\.yaml:10:29 a tokens budget needs usage: auto/);
    expect(issues(route('      - { by: user, tokens: lots, per: day }'))[0]).toMatch(/^proxy\.config\.yaml:9:\d+ routes\.0\.budget\.0\.tokens: invalid count "lots"/);
    expect(issues(route('      - { by: user, tokens: 1k, per: day }') + 'budgets:\n  timezone: Mars/Olympus\n')[0]).toMatch(/^proxy\.config\.yaml:11:13 budgets\.timezone: must be an IANA time zone/);
  });
});
