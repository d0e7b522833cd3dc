/**
 * One fused kernel for the element-wise part of an LSTM step, with its gradient kernel, so that
 * a time step costs three kernels (matmul, cell; plus the input projection done once per
 * sequence) instead of the ~15 of tf.layers.lstm (split, 4 activations, 5 products and sums).
 * On the wasm backend each kernel call has a fixed overhead of tens of microseconds, which is
 * what made the layers LSTM train at ~78 sentences/s.
 *
 * Forward (gates in the order i, f, g, o of z = x + r, each [batch, units]):
 *   i = sigma(z_i)  f = sigma(z_f)  g = tanh(z_g)  o = sigma(z_o)
 *   c = f * cPrev + i * g        h = o * tanh(c)
 * Backward, given dh and dc (the gradients reaching h and c from later steps):
 *   dcTotal = dc + dh * o * (1 - tanh(c)^2)
 *   dz_i = dcTotal * g * i (1 - i)       dz_f = dcTotal * cPrev * f (1 - f)
 *   dz_g = dcTotal * i * (1 - g^2)       dz_o = dh * tanh(c) * o (1 - o)
 *   dcPrev = dcTotal * f                 dx = dr = dz
 * The loops run in JavaScript over the backend's buffers (views of the wasm heap, no copies).
 * The same code serves the cpu and tensorflow backends through readSync/makeTensorInfo.
 * Checked against the composite tf-op formula (values and gradients) in test/sst2/lstm_cell.test.ts.
 *
 * On the wasm backend with the native addon (src/core/native/), lstmLayer runs the whole sequence
 * as two kernels instead: DnnkitLstmSeq (forward, all steps) and DnnkitLstmSeqGrad (backprop
 * through time and the weight gradients), native/src/lstm.cc. The JS path below stays the
 * fallback (no addon, DNNKIT_NATIVE=0, other backends). test/core/native_lstm.test.ts compares them.
 */
import * as tf from '@tensorflow/tfjs';
import { LSTM_SEQ, LSTM_SEQ_GRAD } from '../core/native/kernels.js';

export const LSTM_CELL = 'DnnkitLstmCell';
export const LSTM_CELL_GRAD = 'DnnkitLstmCellGrad';
/** Unstack along axis 0 through heap views (wasm's Unpack/Slice copy the whole input per slice). */
export const UNSTACK_TIME = 'DnnkitUnstackTime';

type Backend = tf.KernelBackend & {
  makeOutput?: (shape: number[], dtype: tf.DataType) => tf.TensorInfo;
  typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array;
  makeTensorInfo: (shape: number[], dtype: tf.DataType, values?: Float32Array) => tf.TensorInfo;
};

/**
 * Allocates the outputs, then calls `body` with float32 views of inputs and outputs. On wasm the
 * views are taken after every allocation (an allocation may grow the heap and detach older views).
 */
function withBuffers(backend: Backend, inputs: tf.TensorInfo[], outShapes: number[][],
  body: (ins: Float32Array[], outs: Float32Array[]) => void): tf.TensorInfo[] {
  for (const t of inputs) {
    if (t.dtype !== 'float32') throw new Error(`${LSTM_CELL} needs float32 inputs, got ${t.dtype}`);
  }
  if (backend.makeOutput && backend.typedArrayFromHeap) {
    const outs = outShapes.map((s) => backend.makeOutput!(s, 'float32'));
    body(inputs.map((t) => backend.typedArrayFromHeap!(t)), outs.map((t) => backend.typedArrayFromHeap!(t)));
    return outs;
  }
  const outVals = outShapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
  body(inputs.map((t) => backend.readSync(t.dataId) as Float32Array), outVals);
  return outShapes.map((s, k) => backend.makeTensorInfo(s, 'float32', outVals[k]));
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Inputs x, r [batch, 4 units], c [batch, units]; outputs h, c, gates (activated) [batch, 4 units], tanh(c). */
const cellForward: tf.KernelFunc = ({ inputs, backend }) => {
  const { x, r, c } = inputs as unknown as { x: tf.TensorInfo; r: tf.TensorInfo; c: tf.TensorInfo };
  const [batch, units] = c.shape;
  if (x.shape[1] !== 4 * units || r.shape[1] !== 4 * units || x.shape[0] !== batch || r.shape[0] !== batch) {
    throw new Error(`${LSTM_CELL}: shapes x [${x.shape}], r [${r.shape}], c [${c.shape}] do not fit`);
  }
  return withBuffers(backend as Backend, [x, r, c], [[batch, units], [batch, units], [batch, 4 * units], [batch, units]],
    ([xv, rv, cv], [hOut, cOut, act, tc]) => {
      for (let b = 0; b < batch; b++) {
        const z = b * 4 * units;
        const s = b * units;
        for (let j = 0; j < units; j++) {
          const i = sigmoid(xv[z + j] + rv[z + j]);
          const f = sigmoid(xv[z + units + j] + rv[z + units + j]);
          const g = Math.tanh(xv[z + 2 * units + j] + rv[z + 2 * units + j]);
          const o = sigmoid(xv[z + 3 * units + j] + rv[z + 3 * units + j]);
          const cNew = f * cv[s + j] + i * g;
          const t = Math.tanh(cNew);
          act[z + j] = i;
          act[z + units + j] = f;
          act[z + 2 * units + j] = g;
          act[z + 3 * units + j] = o;
          cOut[s + j] = cNew;
          tc[s + j] = t;
          hOut[s + j] = o * t;
        }
      }
    });
};

/** Inputs dh, dc, gates, tanhC, cPrev; outputs dz [batch, 4 units], dcPrev [batch, units]. */
const cellBackward: tf.KernelFunc = ({ inputs, backend }) => {
  const { dh, dc, gates, tanhC, cPrev } = inputs as unknown as Record<string, tf.TensorInfo>;
  const [batch, units] = cPrev.shape;
  return withBuffers(backend as Backend, [dh, dc, gates, tanhC, cPrev], [[batch, 4 * units], [batch, units]],
    ([dhv, dcv, act, tc, cp], [dz, dcPrev]) => {
      for (let b = 0; b < batch; b++) {
        const z = b * 4 * units;
        const s = b * units;
        for (let j = 0; j < units; j++) {
          const i = act[z + j];
          const f = act[z + units + j];
          const g = act[z + 2 * units + j];
          const o = act[z + 3 * units + j];
          const t = tc[s + j];
          const dhj = dhv[s + j];
          const dct = dcv[s + j] + dhj * o * (1 - t * t);
          dz[z + j] = dct * g * i * (1 - i);
          dz[z + units + j] = dct * cp[s + j] * f * (1 - f);
          dz[z + 2 * units + j] = dct * i * (1 - g * g);
          dz[z + 3 * units + j] = dhj * t * o * (1 - o);
          dcPrev[s + j] = dct * f;
        }
      }
    });
};

/** Input x [time, ...rest]; outputs `time` tensors [...rest] (contiguous copies). */
const unstackTimeKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as unknown as { x: tf.TensorInfo };
  const [time, ...rest] = x.shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return withBuffers(backend as Backend, [x], Array.from({ length: time }, () => rest), ([xv], outs) => {
    outs.forEach((o, t) => o.set(xv.subarray(t * size, (t + 1) * size)));
  });
};

/** Registers the kernels for the active backend and the gradient (idempotent). */
export function ensureLstmCellKernels(): void {
  const backendName = tf.getBackend();
  if (tf.getKernel(LSTM_CELL, backendName) === undefined) {
    tf.registerKernel({ kernelName: LSTM_CELL, backendName, kernelFunc: cellForward });
    tf.registerKernel({ kernelName: LSTM_CELL_GRAD, backendName, kernelFunc: cellBackward });
    tf.registerKernel({ kernelName: UNSTACK_TIME, backendName, kernelFunc: unstackTimeKernel });
  }
  if (tf.getGradient(UNSTACK_TIME) === undefined) {
    tf.registerGradient({ kernelName: UNSTACK_TIME, gradFunc: (dy) => ({ x: () => tf.stack(dy as tf.Tensor[]) }) });
  }
  if (tf.getGradient(LSTM_CELL) === undefined) {
    tf.registerGradient({
      kernelName: LSTM_CELL,
      inputsToSave: ['c'],
      outputsToSave: [false, false, true, true],
      gradFunc: (dy, saved) => {
        const [dh, dc] = dy as tf.Tensor[];
        const [cPrev, gates, tanhC] = saved;
        const [dz, dcPrev] = tf.engine().runKernel(LSTM_CELL_GRAD, { dh, dc, gates, tanhC, cPrev } as never) as tf.Tensor[];
        return { x: () => dz, r: () => dz.clone(), c: () => dcPrev };
      },
    });
  }
}

/**
 * One LSTM step: h, c from the input projection `x` [batch, 4 units], the recurrent projection
 * `r` = h_{t-1} W_h [batch, 4 units] and the previous cell state `c` [batch, units].
 */
export function lstmCell(x: tf.Tensor2D, r: tf.Tensor2D, c: tf.Tensor2D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  ensureLstmCellKernels();
  const [h, cNew] = tf.engine().runKernel(LSTM_CELL, { x, r, c } as never) as tf.Tensor2D[];
  return { h, c: cNew };
}

/** Splits `x` [time, ...rest] into `time` tensors [...rest] (tf.unstack along axis 0, faster on wasm). */
export function unstackTime<R extends tf.Rank>(x: tf.Tensor): tf.Tensor<R>[] {
  ensureLstmCellKernels();
  if (x.dtype !== 'float32') throw new Error(`unstackTime needs float32, got ${x.dtype}`);
  return tf.engine().runKernel(UNSTACK_TIME, { x } as never) as unknown as tf.Tensor<R>[];
}

/** a [n, k] @ b [k, m] with both operands untransposed (transposed matmuls are slow on wasm). */
function mm(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(a, b);
}

/** Runs the cell kernel directly (no tape): [h, c, gates, tanhC]. */
function cellStep(x: tf.Tensor2D, r: tf.Tensor2D, c: tf.Tensor2D): tf.Tensor2D[] {
  return tf.engine().runKernel(LSTM_CELL, { x, r, c } as never) as unknown as tf.Tensor2D[];
}

/**
 * A whole LSTM layer over a sequence as one differentiable op with hand-written backprop
 * through time (as cuDNN's fused RNN): per step the forward pass runs one matmul and one cell
 * kernel, the backward pass one cell-gradient kernel and one matmul; the weight gradients are
 * three big matmuls over all steps at once instead of one small one per step.
 * @param x [time, batch, in] inputs, time-major
 * @param kernel [in, 4 units]; recurrentKernel [units, 4 units]; bias [4 units] (gates i|f|g|o)
 * @param reverse run right-to-left (outputs stay in input time order)
 * @returns [time, batch, units] hidden states h_t
 */
export function lstmLayer(x: tf.Tensor3D, kernel: tf.Tensor2D, recurrentKernel: tf.Tensor2D, bias: tf.Tensor1D, reverse: boolean): tf.Tensor3D {
  if (useNativeLstm(x, kernel, recurrentKernel, bias)) return nativeLstmLayer(x, kernel, recurrentKernel, bias, reverse);
  ensureLstmCellKernels();
  const [time, batch, inDim] = x.shape;
  const units = recurrentKernel.shape[0];
  const order = Array.from({ length: time }, (_, k) => (reverse ? time - 1 - k : k));
  const f = tf.customGrad(((xIn: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    // [time * batch, 4 units]: the input projection of every step in one matmul.
    const projected = tf.add(mm(xIn.reshape([time * batch, inDim]), wx), b).reshape([time, batch, 4 * units]);
    const xs = unstackTime<tf.Rank.R2>(projected);
    const zeroState = tf.zeros([batch, units]) as tf.Tensor2D;
    const zeroRec = tf.zeros([batch, 4 * units]) as tf.Tensor2D;
    const hs: tf.Tensor2D[] = new Array(time);
    const cs: tf.Tensor2D[] = new Array(time);
    const gates: tf.Tensor2D[] = new Array(time);
    const tanhCs: tf.Tensor2D[] = new Array(time);
    let prev = -1;
    for (const t of order) {
      const r = prev < 0 ? zeroRec : mm(hs[prev], wh);
      [hs[t], cs[t], gates[t], tanhCs[t]] = cellStep(xs[t], r, prev < 0 ? zeroState : cs[prev]);
      prev = t;
    }
    save([xIn, wx, wh, zeroState, ...hs, ...cs, ...gates, ...tanhCs]);
    return {
      value: tf.stack(hs) as tf.Tensor3D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xS, wxS, whS, zero] = saved as tf.Tensor2D[];
        const at = (k: number, t: number) => saved[4 + k * time + t] as tf.Tensor2D;
        const whT = tf.transpose(whS) as tf.Tensor2D; // [4 units, units]
        const dys = unstackTime<tf.Rank.R2>(dy);
        const dz: tf.Tensor2D[] = new Array(time);
        let dhNext: tf.Tensor2D | undefined;
        let dcNext = zero;
        for (let k = time - 1; k >= 0; k--) {
          const t = order[k];
          const cPrev = k === 0 ? zero : at(1, order[k - 1]);
          const dh = dhNext === undefined ? dys[t] : tf.add(dys[t], dhNext);
          const [dzt, dcPrev] = tf.engine().runKernel(LSTM_CELL_GRAD,
            { dh, dc: dcNext, gates: at(2, t), tanhC: at(3, t), cPrev } as never) as unknown as tf.Tensor2D[];
          dz[t] = dzt;
          dcNext = dcPrev;
          if (k > 0) dhNext = mm(dzt, whT);
        }
        // [time * batch, 4 units] gate gradients and [time * batch, units] previous states, in time order.
        const dZ = tf.stack(dz).reshape([time * batch, 4 * units]) as tf.Tensor2D;
        // [time * batch, units] the state each step started from, in time order (pairs with dZ).
        const hPrev = tf.stack(Array.from({ length: time }, (_, t) =>
          (reverse ? (t === time - 1 ? zero : at(0, t + 1)) : (t === 0 ? zero : at(0, t - 1))))).reshape([time * batch, units]) as tf.Tensor2D;
        const x2 = xS.reshape([time * batch, inDim]) as tf.Tensor2D;
        return [
          mm(dZ, tf.transpose(wxS) as tf.Tensor2D).reshape([time, batch, inDim]),
          mm(tf.transpose(x2) as tf.Tensor2D, dZ),
          mm(tf.transpose(hPrev) as tf.Tensor2D, dZ),
          tf.sum(dZ, 0),
        ];
      },
    };
  }) as never) as (x: tf.Tensor, wx: tf.Tensor, wh: tf.Tensor, b: tf.Tensor) => tf.Tensor3D;
  return f(x, kernel, recurrentKernel, bias);
}

/**
 * Whether lstmLayer runs natively: the wasm backend with the fused kernels registered (the addon
 * loaded, DNNKIT_NATIVE not 0), float32 tensors of matching non-empty shapes.
 */
export function useNativeLstm(x: tf.Tensor, kernel: tf.Tensor, recurrentKernel: tf.Tensor, bias: tf.Tensor): boolean {
  if (tf.getBackend() !== 'wasm' || tf.getKernel(LSTM_SEQ, 'wasm') === undefined || tf.getKernel(LSTM_SEQ_GRAD, 'wasm') === undefined) return false;
  if (![x, kernel, recurrentKernel, bias].every((t) => t.dtype === 'float32' && t.size > 0)) return false;
  if (x.rank !== 3 || kernel.rank !== 2 || recurrentKernel.rank !== 2 || bias.rank !== 1) return false;
  const units = recurrentKernel.shape[0];
  return recurrentKernel.shape[1] === 4 * units && kernel.shape[0] === x.shape[2] && kernel.shape[1] === 4 * units && bias.shape[0] === 4 * units;
}

/** lstmLayer on the native fused kernels: one forward kernel, one gradient kernel. */
function nativeLstmLayer(x: tf.Tensor3D, kernel: tf.Tensor2D, recurrentKernel: tf.Tensor2D, bias: tf.Tensor1D, reverse: boolean): tf.Tensor3D {
  const attrs = { reverse } as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((xIn: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const [h, c, gates] = tf.engine().runKernel(LSTM_SEQ, { x: xIn, kernel: wx, recurrentKernel: wh, bias: b } as never, attrs) as tf.Tensor[];
    save([xIn, wx, wh, h, c, gates]);
    return {
      value: h as tf.Tensor3D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xS, wxS, whS, hS, cS, gS] = saved;
        return tf.engine().runKernel(LSTM_SEQ_GRAD,
          { dy, x: xS, kernel: wxS, recurrentKernel: whS, h: hS, c: cS, gates: gS } as never, attrs) as tf.Tensor[];
      },
    };
  }) as never) as (x: tf.Tensor, wx: tf.Tensor, wh: tf.Tensor, b: tf.Tensor) => tf.Tensor3D;
  return f(x, kernel, recurrentKernel, bias);
}
