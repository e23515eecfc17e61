/**
 * The exports object of a CommonJS package loaded with a dynamic `import()`, the same in every
 * build that ships:
 *
 * - tsc output on Node: the namespace has `default` (module.exports) plus the named exports
 *   cjs-module-lexer could detect;
 * - the npm bin's esbuild ESM bundle with code splitting: a lazily imported CommonJS chunk is an
 *   ES module whose ONLY export is `default` (named exports are undefined);
 * - the single executable's CommonJS bundle: esbuild's __toESM, with `default` set.
 *
 * Reading named exports from the namespace worked in the first and third and broke the second
 * (gen-cert, Redis stores and SOCKS egress from `npx ai-relay`; issue #15). `default` is
 * module.exports in all three, so read through it.
 */
export function cjsExports<T>(ns: unknown): T {
  const m = ns as { default?: unknown };
  return (m.default ?? ns) as T;
}
