#!/usr/bin/env node
// The compiled CLI (npm install runs `prepare`, which builds dist/ with tsc).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('dnnkit: error: dist/ is missing; run `npm install` (or `npm run build`) in the dnnkit folder first\n');
  process.exit(1);
}
await import(cli.href);
