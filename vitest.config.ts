import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real servers on port 0; a generous timeout keeps a
    // loaded 2-core CI box from flaking, while each test bounds its own waits.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // `npm run build` when dist/ is stale: CLI tests run bin/ai-relay.js as shipped.
    globalSetup: ['test/global-build.ts'],
  },
});
