#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` via `prepare`).
import { main } from '../dist/cli/bin.js';

main(process.argv).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
