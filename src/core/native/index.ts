/**
 * dnnkit's optional oneDNN kernels for the wasm backend (see addon.ts and kernels.ts).
 * registerNativeKernels runs after registerWasmKernels: each native kernel replaces the kernel
 * registered for 'wasm' at that moment (dnnkit's or tfjs's), which stays its fallback.
 */
import * as tf from '@tensorflow/tfjs';
import { loadAddon, NATIVE_ENV } from './addon.js';
import { ADAM_STEP, fallbacks, LSTM_SEQ, LSTM_SEQ_GRAD, makeAdamKernel, makeExtraKernels, makeLstmKernels, makeNativeKernels, nativeStats, type NativeKernelConfig } from './kernels.js';

export { nativeStats, fallbacks, NATIVE_ENV, LSTM_SEQ, LSTM_SEQ_GRAD, ADAM_STEP };

export interface NativeStatus {
  /** Kernels computed natively by oneDNN or C++ loops (empty when the addon is not in use). */
  kernels: string[];
  /** Of `kernels`, those that run oneDNN primitives (the others are plain C++ loops). */
  onednnKernels?: string[];
  /** dnnkit's own fused kernels (no tfjs counterpart): the whole-sequence LSTM and its gradient, the dense Adam step. */
  fusedKernels?: string[];
  /** Other kernels replaced while the addon is in use (heap-view kernels, falling back as above). */
  extraKernels?: string[];
  /** libdnnl's version when loaded. */
  version?: string;
  /** oneDNN's thread count when loaded. */
  threads?: number;
  /** Why the native kernels are not used. */
  problem?: string;
}

let status: NativeStatus | undefined;

/** Registers the native kernels for 'wasm' (idempotent) with oneDNN on `threads` threads. */
export function registerNativeKernels(threads: number): NativeStatus {
  if (status) return status;
  const load = loadAddon();
  if (!load.addon) return (status = { kernels: [], problem: load.problem });
  const { addon } = load;
  addon.setThreads(threads);
  // Replaces registered kernels, keeping each previous one as the fallback; returns the names.
  const replace = (configs: NativeKernelConfig[]): string[] => configs.flatMap((config) => {
    const previous = tf.getKernel(config.kernelName, 'wasm');
    if (previous === undefined) return [];
    fallbacks.set(config.kernelName, previous.kernelFunc);
    tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
    return [config.kernelName];
  });
  const nativeConfigs = makeNativeKernels(addon);
  const kernels = replace(nativeConfigs);
  const onednnKernels = nativeConfigs.filter((c) => c.kind === 'onednn' && kernels.includes(c.kernelName)).map((c) => c.kernelName);
  const extraKernels = replace(makeExtraKernels(addon));
  const fusedKernels: string[] = [];
  for (const config of [...makeLstmKernels(addon), makeAdamKernel(addon)]) {
    if (tf.getKernel(config.kernelName, 'wasm') === undefined) tf.registerKernel(config);
    fusedKernels.push(config.kernelName);
  }
  return (status = { kernels, onednnKernels, fusedKernels, extraKernels, version: addon.version(), threads: addon.threads() });
}

/** The outcome of registerNativeKernels, or undefined before it ran. */
export function nativeStatus(): NativeStatus | undefined {
  return status;
}

/** One phrase for the backend's reason. */
export function describeNative(s: NativeStatus): string {
  if (s.kernels.length > 0) {
    const onednn = s.onednnKernels ?? [];
    const loops = s.kernels.filter((k) => !onednn.includes(k));
    return `with ${onednn.length} oneDNN kernels (libdnnl ${s.version})` +
      (loops.length ? ` and ${loops.length} native C++ kernels (${loops.join(', ')})` : '') +
      (s.fusedKernels?.length ? `, fused kernels (${s.fusedKernels.join(', ')})` : '') +
      (s.extraKernels?.length ? `, native ${s.extraKernels.join(', ')}` : '');
  }
  return `no oneDNN kernels: ${s.problem}`;
}
