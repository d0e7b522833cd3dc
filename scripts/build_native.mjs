#!/usr/bin/env node
/**
 * Builds dnnkit's optional native kernels (native/, oneDNN from Debian's libdnnl-dev) with
 * node-gyp, into native/build/. Run by `npm install` / `npm ci` / `npm rebuild` (the "install"
 * script) and by hand: `node scripts/build_native.mjs`.
 *
 * Optional by design: without the oneDNN header it prints one line and exits 0; a failed build
 * prints one line (the log is in native/build/build.log) and exits 0. dnnkit then runs on its
 * pure wasm kernels.
 *
 * Environment: DNNKIT_DNNL_INCLUDE (default /usr/include) is where oneapi/dnnl/dnnl.hpp is looked
 * for; DNNKIT_SKIP_NATIVE=1 skips the build; JOBS (default 1) is node-gyp's parallelism.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const include = process.env.DNNKIT_DNNL_INCLUDE || '/usr/include';
const note = (msg) => console.log(`dnnkit: ${msg}`);
const HOWTO = 'apt-get install libdnnl-dev, then `npm rebuild` or `node scripts/build_native.mjs`';

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const candidates = [path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch { /* not a dependency */ }
  return candidates.find((c) => existsSync(c));
}

function main() {
  if (process.env.DNNKIT_SKIP_NATIVE === '1') {
    note('optional native oneDNN kernels skipped (DNNKIT_SKIP_NATIVE=1)');
    return;
  }
  const header = path.join(include, 'oneapi', 'dnnl', 'dnnl.hpp');
  if (!existsSync(header) || !existsSync(path.join(nativeDir, 'binding.gyp'))) {
    note(`optional native oneDNN kernels skipped (no ${path.join(include, 'oneapi/dnnl/dnnl.hpp')}); for them: ${HOWTO}`);
    return;
  }
  const gyp = nodeGyp();
  if (!gyp) {
    note(`optional native oneDNN kernels skipped (node-gyp not found); run \`npm rebuild\` to build them`);
    return;
  }
  const jobs = process.env.JOBS || '1';
  const args = [gyp, 'rebuild', '-j', jobs];
  // Outside npm scripts, build against this Node's own headers when they are installed (as npm
  // does here with nodedir), instead of downloading them.
  const localNodeDir = path.resolve(path.dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(path.join(localNodeDir, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${localNodeDir}`);
  }
  const r = spawnSync(process.execPath, args, {
    cwd: nativeDir, encoding: 'utf8', env: { ...process.env, JOBS: jobs, DNNKIT_DNNL_INCLUDE: include },
  });
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`;
  mkdirSync(path.join(nativeDir, 'build'), { recursive: true });
  writeFileSync(path.join(nativeDir, 'build', 'build.log'), log);
  const built = path.join(nativeDir, 'build', 'Release', 'dnnkit_native.node');
  if (r.status === 0 && existsSync(built)) {
    note(`built the native oneDNN kernels (${path.relative(root, built)})`);
  } else {
    note(`building the optional native oneDNN kernels failed (log: native/build/build.log); dnnkit uses its wasm kernels`);
  }
}

try {
  main();
} catch (err) {
  note(`building the optional native oneDNN kernels failed (${err instanceof Error ? err.message : err}); dnnkit uses its wasm kernels`);
}
process.exit(0);
