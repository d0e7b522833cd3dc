/**
 * Composing wasm kernels inside a kernel: call the backend's registered kernel functions
 * directly (no engine, no tape), keep the intermediates on the wasm heap, free them at the end.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type KernelFunc = tf.KernelConfig['kernelFunc'];

/** A kernel the wasm backend itself registered (captured before any dnnkit override). */
const originals = new Map<string, KernelFunc>();

export function rememberOriginal(name: string): void {
  const config = tf.getKernel(name, 'wasm');
  if (config !== undefined && !originals.has(name)) originals.set(name, config.kernelFunc);
}

/** The wasm backend's own kernel `name` (the original when dnnkit overrode it). */
export function wasmKernel(name: string): KernelFunc {
  const original = originals.get(name);
  if (original) return original;
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
  return config.kernelFunc;
}

/** Runs wasm kernels in sequence, disposing every intermediate but the one returned. */
export class WasmScope {
  private readonly temps: tf.TensorInfo[] = [];
  constructor(readonly backend: BackendWasm) {}

  /** Runs kernel `name` and tracks its output for disposal. */
  run(name: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown> = {}): tf.TensorInfo {
    const out = wasmKernel(name)({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    this.temps.push(out);
    return out;
  }

  /** Tracks a tensor made by hand (makeOutput) for disposal. */
  track(t: tf.TensorInfo): tf.TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** Disposes every tracked tensor except `keep`, and returns `keep`. */
  finish(keep: tf.TensorInfo): tf.TensorInfo {
    for (const t of this.temps) if (t.dataId !== keep.dataId) this.backend.disposeData(t.dataId);
    return keep;
  }
}
