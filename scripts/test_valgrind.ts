/**
 * `npm run test:valgrind`: scripts/valgrind_smoke.ts (every native entry point once, against the
 * cpu backend) under valgrind's memcheck; exit 1 on any memcheck error or a wrong result.
 * Needs Debian's valgrind. oneDNN is held to its SSE4.1 kernels (see valgrind_smoke.ts). The only
 * suppression (scripts/valgrind.supp) is V8's conservative stack scan during garbage collection.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const which = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
if (which.status !== 0) {
  process.stderr.write('test:valgrind: valgrind is not installed (apt-get install valgrind)\n');
  process.exit(2);
}
process.stderr.write(`test:valgrind: the native entry points under ${which.stdout.trim()} memcheck (a few minutes)\n`);
const r = spawnSync('valgrind', ['--error-exitcode=9', '--num-callers=30', `--suppressions=${path.join(ROOT, 'scripts', 'valgrind.supp')}`, process.execPath, path.join(ROOT, 'dist', 'scripts', 'valgrind_smoke.js')], {
  cwd: ROOT, env: { ...process.env, ONEDNN_MAX_CPU_ISA: 'SSE41', DNNKIT_REQUIRE_NATIVE: '1' }, encoding: 'utf8',
});
process.stdout.write(r.stdout);
const summary = /ERROR SUMMARY: (\d+) errors/.exec(r.stderr);
process.stderr.write(r.stderr.split('\n').filter((l) => /ERROR SUMMARY|Invalid|uninitialised|valgrind:|definitely lost/.test(l)).join('\n') + '\n');
if (r.status !== 0 || !summary || summary[1] !== '0') {
  process.stderr.write(`test:valgrind: failed (exit ${r.status}); the full report is valgrind's output above\n`);
  if (r.status !== 0) process.stderr.write(r.stderr.split('\n').slice(-60).join('\n') + '\n');
  process.exit(1);
}
process.stdout.write('test:valgrind: memcheck reported 0 errors\n');
