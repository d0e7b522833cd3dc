/**
 * `npm run test:asan`: the native addon's tests under AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 * 1. The native kernel tests, the fused-LSTM tests, the shape fuzzer (test/core/native*.test.js),
 *    the threaded loops on 2 threads (test/core/native_parallel.test.js), the tables' Adam and the subword bag (tableAdam, bagScatter: test/core/table_adam.test.js,
 *    test/sst2/subwords.test.js) and the signal storm (test/robustness/native_signals.test.js)
 *    with the sanitizer build of the addon (native/build-asan/, `npm run build:native:asan`) and
 *    the gcc sanitizer runtimes preloaded into Node (Node itself is not instrumented; the preloaded
 *    runtime still checks every malloc/free of the process and every access the addon makes).
 * 2. The interrupt loops (scripts/interrupt_loop.ts) with `--tries N` per command (default 3 here;
 *    the full check is `node dist/scripts/interrupt_loop.js --asan --tries 20`).
 *
 * To run anything else under the sanitizer by hand:
 *   LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) \
 *   ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
 *   DNNKIT_NATIVE_ADDON=native/build-asan/build/Release/dnnkit_native.node node bin/dnnkit.js ...
 * (detect_leaks=0: V8 keeps allocations until exit by design, which LeakSanitizer would list.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASAN_ADDON, asanEnv } from './interrupt_loop.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const triesAt = argv.indexOf('--tries');
const tries = triesAt >= 0 ? argv[triesAt + 1] : '3';

if (!existsSync(ASAN_ADDON)) {
  process.stderr.write(`test:asan: ${ASAN_ADDON} is missing; build it with npm run build:native:asan\n`);
  process.exit(2);
}
const env = { ...process.env, ...asanEnv(), DNNKIT_REQUIRE_NATIVE: '1' };
const tests = ['core/native.test.js', 'core/native_lstm.test.js', 'core/native_fuzz.test.js', 'core/native_threads.test.js', 'core/native_parallel.test.js', 'core/table_adam.test.js', 'sst2/subwords.test.js', 'robustness/native_signals.test.js'].map((f) => path.join(ROOT, 'dist', 'test', f));
process.stderr.write('test:asan: native kernel tests and the shape fuzzer under AddressSanitizer + UBSan\n');
const unit = spawnSync(process.execPath, ['--test', ...tests], { cwd: ROOT, env, stdio: 'inherit' });
if (unit.status !== 0) process.exit(unit.status ?? 1);
process.stderr.write(`test:asan: interrupt loops under AddressSanitizer + UBSan (${tries} tries per command)\n`);
const loops = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'interrupt_loop.js'), '--asan', '--tries', tries],
  { cwd: ROOT, env: process.env, stdio: 'inherit' });
process.exit(loops.status ?? 1);
