/**
 * The weighted bag of subword vectors as one kernel with its gradient kernel:
 *   out[positions[j]] += weights[j] * table[ids[j]]          out [numPositions, dim]
 *   dTable[ids[j]]    += weights[j] * dOut[positions[j]]     dTable [rows, dim]
 * Composed from tf ops (gather, multiply, unsortedSegmentSum) the same sum costs a [n-grams, dim]
 * intermediate each way, and the gradient of unsortedSegmentSum goes through a broadcast
 * LogicalAnd that the wasm backend runs in JavaScript element by element, which dominated an
 * SST-2 training step with subword vectors on wasm. These loops touch each
 * n-gram's row once. They run over the backend's buffers (views of the wasm heap; readSync on
 * cpu and tensorflow), as the LSTM cell kernels do. Values and gradients are checked against
 * plain loops in test/sst2/subwords.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from '../core/native/addon.js';

export const SUBWORD_BAG = 'DnnkitSubwordBag';
export const SUBWORD_BAG_GRAD = 'DnnkitSubwordBagGrad';

type Backend = tf.KernelBackend & {
  makeOutput?: (shape: number[], dtype: tf.DataType) => tf.TensorInfo;
  typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array | Int32Array;
  makeTensorInfo: (shape: number[], dtype: tf.DataType, values?: Float32Array) => tf.TensorInfo;
};

interface BagInputs { ids: tf.TensorInfo; positions: tf.TensorInfo; weights: tf.TensorInfo }

/**
 * The loop of both kernels: a zeroed float32 output of `shape`, then for each n-gram j,
 * out[to[j]] += weights[j] * source[from[j]], where (from, to) = (ids, positions) forward and
 * (positions, ids) backward. The views are taken after the output is allocated (on wasm an
 * allocation may grow the heap and detach older views).
 */
function scatter(kernel: string, backend: Backend, source: tf.TensorInfo, bag: BagInputs, shape: number[], backward: boolean): tf.TensorInfo {
  if (source.dtype !== 'float32' || bag.weights.dtype !== 'float32' || bag.ids.dtype !== 'int32' || bag.positions.dtype !== 'int32') {
    throw new Error(`${kernel}: needs float32 vectors and weights, int32 ids and positions`);
  }
  const n = bag.ids.shape[0];
  if (bag.positions.shape[0] !== n || bag.weights.shape[0] !== n) throw new Error(`${kernel}: ids, positions and weights differ in length`);
  const onHeap = backend.makeOutput && backend.typedArrayFromHeap;
  const out = onHeap ? backend.makeOutput!(shape, 'float32') : undefined;
  const view = (t: tf.TensorInfo) => (onHeap ? backend.typedArrayFromHeap!(t) : backend.readSync(t.dataId) as Float32Array | Int32Array);
  const outVals = out ? view(out) as Float32Array : new Float32Array(shape[0] * shape[1]);
  const src = view(source) as Float32Array;
  const ids = view(bag.ids) as Int32Array;
  const positions = view(bag.positions) as Int32Array;
  const weights = view(bag.weights) as Float32Array;
  const [from, to] = backward ? [positions, ids] : [ids, positions];
  const [fromRows, toRows, dim] = [source.shape[0], shape[0], shape[1]];
  const { addon } = onHeap ? loadAddon() : { addon: undefined };
  if (addon && typeof addon.bagScatter === 'function') {
    // The same loop in C++ (the same sums), about 4x faster; it checks the rows too.
    try {
      addon.bagScatter(src, from, to, weights, outVals, Int32Array.from([fromRows, toRows, dim]));
    } catch (err) {
      if (out) (backend as unknown as { disposeData(id: object): void }).disposeData(out.dataId);
      throw new Error(`${kernel}: ${(err as Error).message} (an n-gram id or position is out of range)`);
    }
    return out!;
  }
  outVals.fill(0);
  for (let j = 0; j < n; j++) {
    const f = from[j];
    const t = to[j];
    if (f < 0 || f >= fromRows || t < 0 || t >= toRows) throw new Error(`${kernel}: n-gram ${j} (id ${ids[j]}, position ${positions[j]}) is out of range`);
    const w = weights[j];
    const s = f * dim;
    const d = t * dim;
    for (let e = 0; e < dim; e++) outVals[d + e] += w * src[s + e];
  }
  return out ?? backend.makeTensorInfo(shape, 'float32', outVals);
}

/** out[positions[j]] += weights[j] * table[ids[j]]. */
const bagForward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { table, ...bag } = inputs as unknown as BagInputs & { table: tf.TensorInfo };
  const { numPositions } = attrs as unknown as { numPositions: number };
  return scatter(SUBWORD_BAG, backend as Backend, table, bag, [numPositions, table.shape[1]], false);
};

/** dTable[ids[j]] += weights[j] * dy[positions[j]]. */
const bagBackward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, ...bag } = inputs as unknown as BagInputs & { dy: tf.TensorInfo };
  const { rows } = attrs as unknown as { rows: number };
  return scatter(SUBWORD_BAG_GRAD, backend as Backend, dy, bag, [rows, dy.shape[1]], true);
};

const registeredFor = new Set<string>();

function ensureKernels(): void {
  const backendName = tf.getBackend();
  if (registeredFor.has(backendName)) return;
  if (tf.getKernel(SUBWORD_BAG, backendName) === undefined) {
    tf.registerKernel({ kernelName: SUBWORD_BAG, backendName, kernelFunc: bagForward });
    tf.registerKernel({ kernelName: SUBWORD_BAG_GRAD, backendName, kernelFunc: bagBackward });
  }
  if (registeredFor.size === 0) {
    tf.registerGradient({
      kernelName: SUBWORD_BAG,
      inputsToSave: ['table', 'ids', 'positions', 'weights'],
      gradFunc: (dy, saved) => {
        const [table, ids, positions, weights] = saved;
        return {
          table: () => tf.engine().runKernel(SUBWORD_BAG_GRAD, { dy: dy as tf.Tensor, ids, positions, weights } as never, { rows: table.shape[0] } as never) as tf.Tensor,
          // The n-gram lists are data, not weights.
          ids: () => tf.zerosLike(ids),
          positions: () => tf.zerosLike(positions),
          weights: () => tf.zerosLike(weights),
        };
      },
    });
  }
  registeredFor.add(backendName);
}

/**
 * [numPositions, dim]: per position, the weighted sum of the `table` rows of the n-grams that
 * belong to it (see data.ts flattenSubwords). Differentiable in `table`.
 */
export function subwordBag(table: tf.Tensor2D, ids: tf.Tensor1D, positions: tf.Tensor1D, weights: tf.Tensor1D, numPositions: number): tf.Tensor2D {
  ensureKernels();
  return tf.engine().runKernel(SUBWORD_BAG, { table, ids, positions, weights } as never, { numPositions } as never) as tf.Tensor2D;
}

/**
 * [rows, dim] the gradient of subwordBag's `table` for the output gradient `dy` [numPositions,
 * dim]: row r sums weights[j] * dy[positions[j]] over the n-grams j with ids[j] = r. With ids
 * renumbered to the distinct n-grams of a batch, this is the gradient of just those rows (the
 * trainer passes these rows to core/table_adam.ts).
 */
export function subwordBagGrad(dy: tf.Tensor2D, ids: tf.Tensor1D, positions: tf.Tensor1D, weights: tf.Tensor1D, rows: number): tf.Tensor2D {
  ensureKernels();
  return tf.engine().runKernel(SUBWORD_BAG_GRAD, { dy, ids, positions, weights } as never, { rows } as never) as tf.Tensor2D;
}
