/**
 * Preload that enables wasm threads before any code initialises the backend, for running
 * existing tests/commands threaded without editing them:
 *   DNNKIT_WASM_THREADS=2 node --import ./dist/scripts/probe/threads_preload.js dist/test/core/kernels.test.js
 * (Workers inherit --import: the pthread workers load this too, and must skip it.)
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const { enableWasmThreads, threadsFromEnv, wasmThreadsOutcome } = await import('../../src/core/wasm_threads.js');
  const result = await enableWasmThreads(threadsFromEnv() ?? 2);
  process.stderr.write(`[threads_preload] enable: ${JSON.stringify(result)}\n`);
  process.on('exit', () => process.stderr.write(`[threads_preload] backend initialised with: ${JSON.stringify(wasmThreadsOutcome() ?? null)}\n`));
}
