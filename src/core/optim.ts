/**
 * The one public accessor to tfjs's Adam state, for checkpoints (Kingma & Ba 2015, Algorithm 1:
 * moments m_t, v_t, and the bias-correction powers beta1^t, beta2^t). tfjs keeps the powers in
 * private fields and, on setWeights, recomputes them as pow(beta, t + 1) in float32, which differs
 * in the last bits from the running product it multiplies step by step; a resumed run would then
 * drift from an uninterrupted one. Checkpoints therefore save the powers themselves and put them
 * back with setBetaPowers after the moments. This file is the only place that reaches into the
 * optimizer's private fields.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_STEP } from './native/index.js';

/** The fields of tf.AdamOptimizer this accessor reads and writes (private in tfjs's types). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  incrementIterations(): void;
  applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void;
}

/** Get and set an Adam optimizer's state for a checkpoint. */
export interface AdamState {
  /** [beta1^t, beta2^t] after t steps (the running products Adam divides by). */
  getBetaPowers(): [number, number];
  setBetaPowers(powers: readonly [number, number]): void;
  /**
   * The step count as a scalar, then the first moments, then the second moments, one per
   * variable in the order the gradients were first applied (tfjs's getWeights order). The step
   * count scalar is new: the caller disposes it; the moments are the optimizer's own variables.
   */
  getMoments(): Promise<tf.Tensor[]>;
  /** Restores what getMoments returned, then the beta powers (exactly, not recomputed). */
  setMoments(tensors: readonly tf.Tensor[], betaPowers: readonly [number, number]): Promise<void>;
  /** Sets the step size of the following steps (tfjs reads it at every step). */
  setLearningRate(lr: number): void;
}

/** The checkpoint accessor of `optimizer`, which must be tf.train.adam's. */
export function adamState(optimizer: tf.Optimizer): AdamState {
  if (!(optimizer instanceof tf.AdamOptimizer)) {
    throw new Error(`adamState: expected a tf.train.adam optimizer, got ${optimizer?.getClassName?.() ?? String(optimizer)}`);
  }
  const inner = optimizer as unknown as AdamInternals;
  return {
    getBetaPowers: () => [inner.accBeta1.dataSync()[0], inner.accBeta2.dataSync()[0]],
    setBetaPowers: ([p1, p2]) => {
      tf.tidy(() => {
        inner.accBeta1.assign(tf.scalar(p1));
        inner.accBeta2.assign(tf.scalar(p2));
      });
    },
    getMoments: async () => (await optimizer.getWeights()).map((w) => w.tensor),
    setMoments: async (tensors, betaPowers) => {
      await optimizer.setWeights(tensors.map((tensor, k) => ({ name: k === 0 ? 'iter' : `acc${k}`, tensor })));
      tf.tidy(() => {
        inner.accBeta1.assign(tf.scalar(betaPowers[0]));
        inner.accBeta2.assign(tf.scalar(betaPowers[1]));
      });
    },
    setLearningRate: (lr) => {
      inner.learningRate = lr;
    },
  };
}

const fused = new WeakSet<tf.Optimizer>();

/**
 * Makes `optimizer` (tf.train.adam's) compute each variable's step with one fused kernel
 * (DnnkitAdamStep, native/src/dnnkit_native.cc) when it can: wasm backend with the native addon,
 * float32 variables. It is tfjs's applyGradients (tfjs-core 4.22, adam_optimizer.ts) with the
 * dozen element-wise kernels per variable replaced by one pass: the same float32 operations in
 * the same order, so the same bits (test/core/fused_adam.test.ts), the same moment variables
 * (checkpoints unchanged) and the same running beta powers. Elsewhere tfjs's own method runs.
 *
 * Why hand-written: tfjs's Adam writes a new full-size tensor per operation; for the MNIST CNN's
 * 225k weights that was 2.6-4.3 ms of every step (docs/CORES.md), the serial part of a
 * data-parallel step. Returns whether the fused step is in use.
 */
export function installFusedAdam(optimizer: tf.Optimizer): boolean {
  if (!(optimizer instanceof tf.AdamOptimizer)) throw new Error('installFusedAdam: expected a tf.train.adam optimizer');
  if (fused.has(optimizer)) return true;
  if (tf.getKernel(ADAM_STEP, 'wasm') === undefined) return false;
  const inner = optimizer as unknown as AdamInternals;
  const original = inner.applyGradients.bind(optimizer);
  inner.applyGradients = (variableGradients) => {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const usable = tf.getBackend() === 'wasm' && names.every((name) => tf.engine().registeredVariables[name]?.dtype === 'float32');
    if (!usable) {
      original(variableGradients);
      return;
    }
    tf.tidy(() => {
      // 1 - beta^t as tfjs's sub(1, accBeta) computes it: float32 1 minus the float32 power.
      const [p1, p2] = [inner.accBeta1.dataSync()[0], inner.accBeta2.dataSync()[0]];
      const hyper = [-inner.learningRate, inner.beta1, inner.beta2, 1 - inner.beta1, 1 - inner.beta2,
        Math.fround(1 - p1), Math.fround(1 - p2), inner.epsilon].map(Math.fround);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        inner.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        inner.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (gradient == null) return;
        const m = inner.accumulatedFirstMoment[i]!.variable;
        const v = inner.accumulatedSecondMoment[i]!.variable;
        const g = gradient.dtype === 'float32' ? gradient : tf.cast(gradient, 'float32');
        const [w2, m2, v2] = tf.engine().runKernel(ADAM_STEP, { value, m, v, g }, { hyper } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(m2);
        v.assign(v2);
        value.assign(w2);
      });
      inner.accBeta1.assign(tf.mul(inner.accBeta1, inner.beta1));
      inner.accBeta2.assign(tf.mul(inner.accBeta2, inner.beta2));
    });
    inner.incrementIterations();
  };
  fused.add(optimizer);
  return true;
}
