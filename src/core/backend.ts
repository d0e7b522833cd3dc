/**
 * Backend selection. Preference: tfjs-node (native TensorFlow, when the optional dependency
 * installed and loads) > wasm (XNNPACK, with the gradient kernels dnnkit adds) > cpu (plain
 * JavaScript, ~100x slower for convolutions: a last resort, with a warning).
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from './kernels/index.js';
import { enableWasmThreads, threadsFromEnv, wasmThreadsOutcome } from './wasm_threads.js';
import { UsageError } from './errors.js';

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
  tfjsVersion: string;
  /** Threads the backend computes with. */
  threads: number;
  simd: boolean;
  nodeVersion: string;
  warning?: string;
}

const requireCjs = createRequire(import.meta.url);
let current: BackendInfo | undefined;
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

/** Initialises wasm; returns what the thread request came to (a phrase for the reason). */
async function initWasm(): Promise<string> {
  const threads = requestedThreads ?? threadsFromEnv() ?? 1;
  const t = threads > 1 ? await enableWasmThreads(threads) : undefined;
  await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('the wasm backend failed to initialise');
  await tf.ready();
  registerWasmKernels();
  const outcome = wasmThreadsOutcome();
  if (t === undefined) return '1 thread (--threads N for more)';
  if (outcome?.error) return `${threads} threads requested but the threaded build failed (${outcome.error}); 1 thread`;
  return t.threads > 1 ? `${t.threads} threads` : `1 thread (${t.reason})`;
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
      const threadNote = await initWasm();
      name = 'wasm';
      projectKernels = registerWasmKernels();
      reason = `${requested === 'wasm' ? 'requested' : nodeProblem}; using wasm with ${projectKernels.length} project kernels (${projectKernels.join(', ')}), ${threadNote}`;
    } catch (err) {
      if (requested === 'wasm') throw err;
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
    tfjsVersion: tf.version.tfjs,
    threads: name === 'wasm' ? (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount() : name === 'node' ? 0 : 1,
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
