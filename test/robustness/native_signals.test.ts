/**
 * Signals during native kernels (issue: Ctrl-C in `dnnkit sst2 repeat` aborted with
 * `malloc(): ... corrupted`). oneDNN 2.6's generated GEMM kernels point rsp into a heap buffer
 * while they run, so a signal delivered then wrote its frame into the heap; the addon now blocks
 * asynchronous signals for the length of each call (native/src/dnnkit_native.cc).
 *
 * The test storms a child that runs the fused LSTM (dnnl_sgemm) and a oneDNN matmul 300 times
 * with SIGWINCH (a terminal resize; ignored by default, so no signal can end the child) sent
 * back to back by a shell loop, and requires a clean exit, every result bit-identical, and
 * thousands of signals received. Before the fix, 6 of 6 runs aborted (`corrupted size vs.
 * prev_size`, `munmap_chunk(): invalid pointer`); 4 of 4 passed after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../../src/core/native/addon.js';

const CHILD = fileURLToPath(new URL('./signal_storm_child.js', import.meta.url));
const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
const load = loadAddon();
const skip = load.addon || required ? false : `native addon not in use: ${load.problem}`;

test('native kernels survive a storm of signals: no heap corruption, identical results', { skip, timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, [CHILD], { env: { ...process.env, DNNKIT_SIGNAL_STORM_CHILD: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let storm: ReturnType<typeof spawn> | undefined;
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => {
    out += d;
    if (!storm && out.includes('ready')) {
      storm = spawn('bash', ['-c', `while kill -WINCH ${child.pid} 2>/dev/null; do :; done`], { stdio: 'ignore' });
    }
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  storm?.kill('SIGKILL');
  assert.equal(signal, null, `the child died of ${signal}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  assert.equal(code, 0, `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  assert.doesNotMatch(err, /corrupted|double free|invalid pointer|AddressSanitizer|runtime error/);
  const result = JSON.parse(out.trim().split('\n').pop()!);
  assert.ok(storm, 'the storm started');
  assert.ok(result.calls >= 300, `native LSTM calls: ${result.calls}`);
  assert.ok(result.signals >= 1000, `only ${result.signals} signals reached the child: the storm did not test anything`);
  assert.equal(result.mismatches, 0, 'results changed while signals arrived');
});
