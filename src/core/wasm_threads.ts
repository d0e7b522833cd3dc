/**
 * Multi-threaded wasm (XNNPACK's thread pool on several cores) under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build but never uses it under Node:
 * - its `WASM_HAS_MULTITHREAD_SUPPORT` flag answers false whenever `IS_NODE`;
 * - forced true, initialisation fails: its `locateFile` hands emscripten the pthread worker script
 *   as a `blob:` URL (`URL.createObjectURL(new Blob([wasmWorkerContents]))`) and Node's `Worker`
 *   accepts only file paths (ERR_WORKER_PATH);
 * - the main script it passes to every worker (`mainScriptUrlOrBlob`) is a Blob holding the
 *   *bundled* factory, whose code refers to rollup's `require$$0`... variables that do not exist
 *   in a worker, and a worker cannot read a Blob synchronously anyway.
 *
 * The fix, applied at runtime (node_modules untouched):
 * 1. write the worker script tfjs embeds (`wasmWorkerContents`, escaped as tfjs escapes it) to a
 *    real `.cjs` file, followed by a few lines that replace a non-string `urlOrBlob` in the
 *    worker's `load` message by the path of emscripten's own glue for the same build
 *    (`wasm-out/tfjs-backend-wasm-threaded-simd.js`, which defines the same factory: identical
 *    import/export tables, checked below);
 * 2. wrap `URL.createObjectURL` so that exactly that worker Blob (same type, same byte size)
 *    maps to the file's path; every other Blob goes to the original function;
 * 3. tfjs's C++ caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hyperthreads
 *    per core), and under Node that is `os.cpus().length / 2`: 1 on a 2-core machine, so threads
 *    would silently stay at 1. `os.cpus` is wrapped so that only a call from the glue's
 *    `_emscripten_num_logical_cores` (checked on the stack) sees `2 * threads` entries;
 * 4. set `WASM_HAS_MULTITHREAD_SUPPORT` true and `setThreadsCount(threads)`;
 * 5. wrap the registered 'wasm' backend factory: after the backend starts its pool (XNNPACK's
 *    pthreadpool threads run for the life of the process), `unref()` their workers, which
 *    emscripten `ref()`s while a pthread runs: otherwise Node never exits at the end of a
 *    command. If the threaded build fails to initialise, the wrapper retries single-threaded.
 * Costs: emscripten starts a pool of 8 Node workers at initialisation whatever the thread count
 * (a slower backend start and more memory), and
 * pthreadpool's spin-waiting adds CPU time on small ops. Results are bitwise identical to one
 * thread in every comparison run (XNNPACK splits outputs, not reductions, between threads).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from './errors.js';

const requireCjs = createRequire(import.meta.url);

/** Emscripten preloads this many pthread workers; more threads would need workers created on demand. */
export const MAX_WASM_THREADS = 8;

/** The environment variable `threadsFromEnv` reads (an integer >= 1, or 'auto' for all cores). */
export const WASM_THREADS_ENV = 'DNNKIT_WASM_THREADS';

export interface WasmThreadsResult {
  /** Threads the wasm backend will use (1 when threads could not be enabled). */
  threads: number;
  /** Why, in one sentence. */
  reason: string;
}

let enabled: WasmThreadsResult | undefined;
let originalCreateObjectURL: ((obj: Blob) => string) | undefined;
let cpusShimThreads = 0;
let factoryWrapped = false;
/** What happened when the backend initialised (undefined before). */
let initOutcome: { threads: number; error?: string } | undefined;

/** The thread count DNNKIT_WASM_THREADS asks for (undefined when unset or empty); UsageError when malformed. */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[WASM_THREADS_ENV]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'auto') return os.availableParallelism();
  // Digits only: Number() would also take '0x2', '1e1' and '2.0'.
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1)) {
    throw new UsageError(`${WASM_THREADS_ENV}='${raw}' is not a thread count; set it to a whole number from 1 to ${MAX_WASM_THREADS} (more is capped at ${MAX_WASM_THREADS}) or 'auto' (one per core), or unset it`);
  }
  return n;
}

/** The same bytes tfjs's feature test validates: a wasm module using an atomic instruction. */
const THREADED_WASM = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5,
  4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
]);

/** Why this Node cannot run threaded wasm, or undefined when it can. */
function platformProblem(): string | undefined {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  try {
    if (!WebAssembly.validate(THREADED_WASM)) return 'this Node does not support wasm threads (atomics)';
  } catch (err) {
    return `wasm threads feature test failed (${(err as Error).message})`;
  }
  if (typeof URL.createObjectURL !== 'function') return 'URL.createObjectURL is missing';
  return undefined;
}

/** Import/export names of an emscripten glue file, to check two files are the same build. */
function glueSignature(code: string): string {
  const imports = /asmLibraryArg\s*=\s*\{([^}]*)\}/.exec(code)?.[1] ?? '';
  const keys = (imports.match(/"[A-Za-z_0-9$]+"\s*:/g) ?? []).map((k) => k.replace(/\s/g, ''));
  const exportsUsed = [...new Set(code.match(/Module\["asm"\]\["[A-Za-z0-9_$]+"\]/g) ?? [])].sort();
  return `${keys.join(',')}|${exportsUsed.join(',')}`;
}

/** A private per-user directory in the temp dir (not a symlink, ours, mode 0700). */
function privateDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const dir = path.join(os.tmpdir(), `dnnkit-${uid}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) throw new Error(`${dir} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`${dir} belongs to another user`);
  return dir;
}

/** Writes `content` to a content-addressed file in `dir` (reused when present and equal); returns its path. */
function writeOnce(dir: string, stem: string, content: string): string {
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const file = path.join(dir, `${stem}-${hash}.cjs`);
  try {
    if (fs.readFileSync(file, 'utf8') === content) return file;
  } catch {
    // absent: write it
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

/**
 * Prepares the worker script file and the main-script path; returns the file's path and the
 * exact Blob size tfjs will create for it.
 */
function prepareWorkerScript(): { workerFile: string; blobSize: number } {
  const workerModule = requireCjs.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
  const mainScript = requireCjs.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const bundle = requireCjs.resolve('@tensorflow/tfjs-backend-wasm');
  const contents = (requireCjs(workerModule) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string' || !contents.includes('WasmBackendModuleThreadedSimd(Module)')) {
    throw new Error(`${workerModule} does not export the expected wasmWorkerContents`);
  }
  // The bundle's embedded factory and emscripten's own glue must be the same build.
  const bundleCode = fs.readFileSync(bundle, 'utf8');
  const start = bundleCode.indexOf('var WasmBackendModuleThreadedSimd');
  const end = bundleCode.indexOf('var tfjsBackendWasmThreadedSimdExports', start);
  if (start < 0 || end < 0) throw new Error(`cannot find the threaded factory in ${bundle}`);
  const mainCode = fs.readFileSync(mainScript, 'utf8');
  if (glueSignature(bundleCode.slice(start, end)) !== glueSignature(mainCode) || glueSignature(mainCode).length < 100) {
    throw new Error(`${mainScript} is not the build the tfjs-backend-wasm bundle embeds`);
  }
  // tfjs escapes newlines before making the Blob (the worker code has "\n" inside string literals).
  const escaped = contents.replace(/\n/g, '\\n');
  // Appended to the worker: its main script is emscripten's glue file, not tfjs's Blob.
  const patch =
    '\n;(function(){var onmessageOrig=self.onmessage;self.onmessage=function(e){' +
    'if(e&&e.data&&e.data.cmd==="load"&&typeof e.data.urlOrBlob!=="string"){' +
    `e.data.urlOrBlob=${JSON.stringify(mainScript)};}return onmessageOrig(e)};})();\n`;
  const script = `// written by dnnkit (src/core/wasm_threads.ts) from ${workerModule}\n${escaped}${patch}`;
  new vm.Script(script, { filename: 'dnnkit-wasm-worker.cjs' }); // throws on a syntax error
  const workerFile = writeOnce(privateDir(), 'tfjs-wasm-threaded-simd-worker', script);
  return { workerFile, blobSize: Buffer.byteLength(escaped, 'utf8') };
}

/** Maps the worker Blob tfjs creates to `workerFile`; leaves every other call alone. */
function installCreateObjectUrlShim(workerFile: string, blobSize: number): void {
  if (originalCreateObjectURL) return;
  const original = URL.createObjectURL.bind(URL) as (obj: Blob) => string;
  originalCreateObjectURL = original;
  URL.createObjectURL = function createObjectURL(obj: Blob): string {
    if (obj instanceof Blob && obj.type === 'application/javascript' && obj.size === blobSize) return workerFile;
    return original(obj);
  };
}

/**
 * Makes the glue's `_emscripten_num_logical_cores` (and nothing else) count `2 * threads` cores,
 * so that tfjs's `min(threads, cores / 2)` cap lets `threads` through.
 */
function installCpusShim(threads: number): void {
  cpusShimThreads = threads;
  const osCjs = requireCjs('node:os') as typeof os;
  if ((osCjs.cpus as { dnnkitShim?: boolean }).dnnkitShim) return;
  const original = osCjs.cpus;
  const shim = function cpus(): os.CpuInfo[] {
    const real = original.call(osCjs);
    const stack = new Error().stack ?? '';
    if (!/\b_emscripten_num_logical_cores\b/.test(stack)) return real;
    const wanted = 2 * cpusShimThreads;
    const out = real.slice(0, wanted);
    while (out.length < wanted) out.push(real[out.length % real.length]);
    return out;
  };
  (shim as { dnnkitShim?: boolean }).dnnkitShim = true;
  osCjs.cpus = shim;
}

interface PThreadWorker { unref(): void }
interface EmscriptenThreadedModule { PThread?: { runningWorkers: PThreadWorker[] } }

/**
 * Wraps the 'wasm' backend factory: unrefs the pool's running pthread workers once the backend
 * exists, and falls back to the single-threaded build when the threaded one fails to start.
 */
function wrapBackendFactory(wasmBackend: typeof import('@tensorflow/tfjs-backend-wasm')): void {
  if (factoryWrapped) return;
  const entry = tf.engine().registryFactory['wasm'];
  if (entry === undefined) throw new Error('the wasm backend is not registered');
  const original = entry.factory;
  entry.factory = async () => {
    let backend: tf.KernelBackend;
    try {
      backend = await original();
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasmBackend.setThreadsCount(1);
      backend = await original();
      initOutcome = { threads: 1, error: `the threaded wasm build failed to initialise (${message}); using 1 thread` };
      return backend;
    }
    const module = (backend as unknown as { wasm: EmscriptenThreadedModule }).wasm;
    for (const worker of module.PThread?.runningWorkers ?? []) worker.unref();
    initOutcome = { threads: wasmBackend.getThreadsCount() };
    return backend;
  };
  factoryWrapped = true;
}

/**
 * After the wasm backend initialised: the threads it computes with, and the error when the
 * threaded build failed and the single-threaded one took over. Undefined before initialisation
 * or when enableWasmThreads did not enable threads.
 */
export function wasmThreadsOutcome(): { threads: number; error?: string } | undefined {
  return initOutcome;
}

/**
 * Call before tf.setBackend('wasm'). Returns the thread count the backend will use (1 when
 * threads can't be enabled, with the reason). Idempotent: later calls return the first answer.
 */
export async function enableWasmThreads(threads: number): Promise<WasmThreadsResult> {
  if (enabled) return enabled;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`thread count must be an integer >= 1, got ${threads}`);
  const wasmBackend = await import('@tensorflow/tfjs-backend-wasm');
  if (tf.engine().registry['wasm'] !== undefined) {
    return { threads: wasmBackend.getThreadsCount(), reason: 'the wasm backend was already initialised; threads must be enabled before tf.setBackend(\'wasm\')' };
  }
  if (threads === 1) {
    wasmBackend.setThreadsCount(1);
    return (enabled = { threads: 1, reason: '1 thread requested' });
  }
  const problem = platformProblem();
  if (problem) return { threads: 1, reason: problem };
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) {
    return { threads: 1, reason: 'tfjs ships its threaded wasm build with SIMD only, and SIMD is unavailable' };
  }
  let prepared: { workerFile: string; blobSize: number };
  try {
    prepared = prepareWorkerScript();
  } catch (err) {
    return { threads: 1, reason: `cannot prepare the wasm worker script: ${(err as Error).message}` };
  }
  installCreateObjectUrlShim(prepared.workerFile, prepared.blobSize);
  const n = Math.min(threads, MAX_WASM_THREADS);
  installCpusShim(n);
  wrapBackendFactory(wasmBackend);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasmBackend.setThreadsCount(n);
  const capped = n < threads ? ` (capped from ${threads}: emscripten preloads ${MAX_WASM_THREADS} workers)` : '';
  return (enabled = { threads: n, reason: `threaded SIMD wasm with ${n} threads${capped}, pthread workers from ${prepared.workerFile}` });
}
