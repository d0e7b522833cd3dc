/**
 * Backend selection. Preference: tfjs-node (native TensorFlow, when the optional dependency
 * installed and loads) > wasm (XNNPACK, with the gradient kernels dnnkit adds) > cpu (plain
 * JavaScript, ~100x slower for convolutions: a last resort, with a warning).
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from './kernels/index.js';
import { enableWasmThreads, threadsFromEnv, wasmThreadsOutcome } from './wasm_threads.js';
import { loadAddon } from './native/addon.js';
import { UsageError } from './errors.js';
import { describeNative, registerNativeKernels } from './native/index.js';

export const BACKENDS = ['node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** dnnkit's name for the backend in use. */
  name: BackendName;
  /** tfjs's name for it ('tensorflow', 'wasm', 'cpu'). */
  tfjsName: string;
  /** Why this backend was chosen, in one sentence. */
  reason: string;
  /** Kernels dnnkit registered for this backend. */
  projectKernels: string[];
  /** Kernels computed by the native oneDNN addon (wasm only; empty without it or with DNNKIT_NATIVE=0). */
  nativeKernels: string[];
  tfjsVersion: string;
  /** Threads the backend computes with. */
  threads: number;
  simd: boolean;
  nodeVersion: string;
  warning?: string;
}

const requireCjs = createRequire(import.meta.url);
let current: BackendInfo | undefined;

/**
 * tfjs's cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js ... install
 * our node backend" (console.warn, tfjs-backend-cpu's MathBackendCPU.write) the first time it
 * stores a tensor. dnnkit chooses its backend itself and says which and why (`dnnkit info`,
 * run.json), and a tensor made before initBackend (sst2 --resume decodes its checkpoint first)
 * lands on cpu and printed the banner. Marking the backend as already used silences it; the
 * factory is wrapped so that this holds for the instance tfjs creates on first use.
 */
function silenceCpuBanner(): void {
  const quiet = (backend: unknown) => {
    if (backend && typeof backend === 'object' && 'firstUse' in backend) (backend as { firstUse: boolean }).firstUse = false;
    return backend;
  };
  const engine = tf.engine();
  quiet(engine.registry['cpu']);
  const entry = engine.registryFactory['cpu'];
  if (entry === undefined || (entry.factory as { dnnkitQuiet?: boolean }).dnnkitQuiet) return;
  const original = entry.factory;
  const factory = () => {
    const made = original();
    return made instanceof Promise ? made.then((b) => quiet(b) as tf.KernelBackend) : (quiet(made) as tf.KernelBackend);
  };
  (factory as { dnnkitQuiet?: boolean }).dnnkitQuiet = true;
  entry.factory = factory;
}
silenceCpuBanner();
/** Threads asked for with --threads (set by the CLI before the backend initialises). */
let requestedThreads: number | undefined;

/** Sets the wasm thread count (from --threads); DNNKIT_WASM_THREADS is the fallback, 1 the default. */
export function requestThreads(threads: number | undefined): void {
  requestedThreads = threads;
}

async function tryNode(): Promise<string | undefined> {
  try {
    requireCjs("@tensorflow/tfjs-node");
    return undefined;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    if (/Cannot find module '@tensorflow\/tfjs-node'/.test(msg)) return 'tfjs-node not installed';
    if (/tfjs_binding\.node/.test(msg)) return 'tfjs-node is installed without its native library (its download failed at install time)';
    return `tfjs-node did not load (${msg})`;
  }
}

/**
 * Initialises wasm; returns what the thread request came to (a phrase for the reason) and the
 * threads the native kernels compute with. With the native addon, N threads are oneDNN's
 * OpenMP threads and wasm's own kernels stay on one thread: wasm's thread pool (XNNPACK's) made
 * every measured workload slower on the 2-core machine, also beside oneDNN's threads (ResNet-18
 * forward passes, `node dist/scripts/probe_threads.js WASM OMP`: batch 1 at 30, 25 and 40 img/s
 * with 1/1, 2/2 and 1/2 threads; batch 16 at 46, 71 and 71). Without the addon, N threads are
 * wasm's pool, its only way to use more cores.
 */
async function initWasm(): Promise<{ threadNote: string; threads: number }> {
  const requested = requestedThreads ?? threadsFromEnv() ?? 1;
  const nativeThreads = requested > 1 && loadAddon().addon ? requested : undefined;
  const t = requested > 1 && nativeThreads === undefined ? await enableWasmThreads(requested) : undefined;
  await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('the wasm backend failed to initialise');
  await tf.ready();
  registerWasmKernels();
  if (nativeThreads !== undefined) return { threadNote: `${nativeThreads} threads (oneDNN's; wasm's own kernels on 1)`, threads: nativeThreads };
  // oneDNN (if loaded later) computes with as many threads as wasm actually got.
  const threads = (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
  const outcome = wasmThreadsOutcome();
  if (t === undefined) return { threadNote: '1 thread (--threads N for more)', threads };
  if (outcome?.error) return { threadNote: `${requested} threads requested but the threaded build failed (${outcome.error}); 1 thread`, threads };
  return { threadNote: t.threads > 1 ? `${t.threads} threads` : `1 thread (${t.reason})`, threads };
}

/**
 * Selects and initialises a backend. With `requested` undefined, the best available one.
 * Idempotent: a second call with the same request returns the first answer.
 */
export async function initBackend(requested?: BackendName): Promise<BackendInfo> {
  if (current && (requested === undefined || requested === current.name)) return current;
  if (requested !== undefined && !BACKENDS.includes(requested)) {
    throw new UsageError(`unknown backend '${requested}'; use one of ${BACKENDS.join(', ')}`);
  }
  let name: BackendName;
  let reason: string;
  let projectKernels: string[] = [];
  let nativeKernels: string[] = [];
  let wasmThreads = 1;
  let warning: string | undefined;
  const nodeProblem = requested === undefined || requested === 'node' ? await tryNode() : 'not requested';
  if ((requested === undefined || requested === 'node') && nodeProblem === undefined) {
    await tf.setBackend('tensorflow');
    await tf.ready();
    name = 'node';
    reason = 'tfjs-node loaded: native TensorFlow kernels';
  } else if (requested === 'node') {
    throw new UsageError(`--backend node is not available: ${nodeProblem}; use --backend wasm`);
  } else if (requested === undefined || requested === 'wasm') {
    try {
      const { threadNote, threads } = await initWasm();
      wasmThreads = threads;
      name = 'wasm';
      projectKernels = registerWasmKernels();
      // After the project kernels: the native ones fall back to whatever is registered now.
      // oneDNN computes with the requested threads (1 by default; --threads N).
      const native = registerNativeKernels(threads);
      nativeKernels = native.kernels;
      reason = `${requested === 'wasm' ? 'requested' : nodeProblem}; using wasm with ${projectKernels.length} project kernels (${projectKernels.join(', ')}), ${threadNote}; ${describeNative(native)}`;
    } catch (err) {
      // A bad setting (DNNKIT_WASM_THREADS) is the user's to fix, not a reason for a 100x slower backend.
      if (requested === 'wasm' || err instanceof UsageError) throw err;
      await tf.setBackend('cpu');
      name = 'cpu';
      reason = `${nodeProblem}; wasm failed (${(err as Error).message})`;
      warning = 'using the slow cpu backend: training will take hours';
    }
  } else {
    await tf.setBackend('cpu');
    await tf.ready();
    name = 'cpu';
    reason = 'requested';
    warning = 'the cpu backend is plain JavaScript and about 100x slower than wasm for convolutions';
  }
  const simd = name === 'wasm' ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : false;
  current = {
    name,
    tfjsName: tf.getBackend(),
    reason,
    projectKernels,
    nativeKernels,
    tfjsVersion: tf.version.tfjs,
    threads: name === 'wasm' ? wasmThreads : name === 'node' ? 0 : 1,
    simd,
    nodeVersion: process.version,
    warning,
  };
  return current;
}

/** The backend selected by initBackend, or undefined before it ran. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
