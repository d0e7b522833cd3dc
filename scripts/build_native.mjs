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
 * `--asan` builds a second copy with AddressSanitizer and UndefinedBehaviorSanitizer
 * (`-fsanitize=address,undefined -fno-omit-frame-pointer -g -O1`) into native/build-asan/ and,
 * unlike the ordinary build, fails (exit 1) when it cannot be built. Load it with
 * DNNKIT_NATIVE_ADDON=native/build-asan/build/Release/dnnkit_native.node and Node started under
 * the sanitizer runtime (see scripts/test_asan.mjs, `npm run test:asan`).
 *
 * Environment: DNNKIT_DNNL_INCLUDE (default /usr/include) is where oneapi/dnnl/dnnl.hpp is looked
 * for; DNNKIT_SKIP_NATIVE=1 skips the build; JOBS (default 1) is node-gyp's parallelism.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const include = process.env.DNNKIT_DNNL_INCLUDE || '/usr/include';
const note = (msg) => console.log(`dnnkit: ${msg}`);
const HOWTO = 'apt-get install libdnnl-dev, then `npm rebuild` or `node scripts/build_native.mjs`';
const asan = process.argv.includes('--asan');
const SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-fno-sanitize-recover=undefined', '-g', '-O1'];

/**
 * The folder node-gyp builds in: native/ itself, or for --asan native/build-asan/ with a copy of
 * binding.gyp whose sources point back at native/src/ and whose flags add the sanitizers.
 */
function projectDir() {
  if (!asan) return nativeDir;
  const dir = path.join(nativeDir, 'build-asan');
  mkdirSync(dir, { recursive: true });
  const gyp = JSON.parse(readFileSync(path.join(nativeDir, 'binding.gyp'), 'utf8'));
  for (const t of gyp.targets) {
    t.sources = t.sources.map((s) => path.posix.join('..', s));
    // -O3 would be overridden by the later -O1 anyway; drop it for clarity.
    t.cflags_cc = [...t.cflags_cc.filter((f) => !/^-O\d$/.test(f)), ...SANITIZE_FLAGS];
    t.ldflags = [...(t.ldflags ?? []), '-fsanitize=address,undefined'];
  }
  writeFileSync(path.join(dir, 'binding.gyp'), JSON.stringify(gyp, null, 2));
  return dir;
}

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const candidates = [path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch { /* not a dependency */ }
  return candidates.find((c) => existsSync(c));
}

function main() {
  if (process.env.DNNKIT_SKIP_NATIVE === '1' && !asan) {
    note('optional native oneDNN kernels skipped (DNNKIT_SKIP_NATIVE=1)');
    return;
  }
  const header = path.join(include, 'oneapi', 'dnnl', 'dnnl.hpp');
  if (!existsSync(header) || !existsSync(path.join(nativeDir, 'binding.gyp'))) {
    if (asan) {
      note(`cannot build the sanitizer copy: no ${header} (${HOWTO})`);
      process.exit(1);
    }
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
  const cwd = projectDir();
  const r = spawnSync(process.execPath, args, {
    cwd, encoding: 'utf8', env: { ...process.env, JOBS: jobs, DNNKIT_DNNL_INCLUDE: include },
  });
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`;
  mkdirSync(path.join(cwd, 'build'), { recursive: true });
  writeFileSync(path.join(cwd, 'build', 'build.log'), log);
  const built = path.join(cwd, 'build', 'Release', 'dnnkit_native.node');
  if (r.status === 0 && existsSync(built)) {
    note(`built the native oneDNN kernels${asan ? ' with AddressSanitizer and UBSan' : ''} (${path.relative(root, built)})`);
  } else if (asan) {
    note(`building the sanitizer copy of the native kernels failed (log: ${path.relative(root, path.join(cwd, 'build', 'build.log'))})`);
    process.exit(1);
  } else {
    note(`building the optional native oneDNN kernels failed (log: native/build/build.log); dnnkit uses its wasm kernels`);
  }
}

try {
  main();
} catch (err) {
  if (asan) {
    note(`building the sanitizer copy of the native kernels failed (${err instanceof Error ? err.message : err})`);
    process.exit(1);
  }
  note(`building the optional native oneDNN kernels failed (${err instanceof Error ? err.message : err}); dnnkit uses its wasm kernels`);
}
process.exit(0);
