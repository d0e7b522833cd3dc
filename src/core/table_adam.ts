/**
 * Adam for embedding tables whose gradient comes as rows (the rows a batch used; every other row's
 * gradient is zero), fused into one loop per table. It is Adam exactly as tf.train.adam computes
 * it (Kingma & Ba 2015: the same beta1, beta2, epsilon and bias correction by the running powers
 * beta^t): every row that has ever had a gradient moves every step, also on a zero gradient,
 * with its decaying momentum. Rows that have never had one are skipped (their moments are zero,
 * so Adam leaves them where they are).
 *
 * Why hand-written (no library has it for tfjs): tf.train.adam needs the dense [rows, dim]
 * gradient and runs a dozen element-wise kernels per table, each writing a new full-size tensor.
 * For SST-2's 10,474 x 128 subword table and ~7,200 x 128 word table per network that was the
 * largest cost of a training step. Here the moments live in Float32Arrays and the weight is
 * rewritten in place on the wasm heap, one pass per step. A weight whose memory another tensor
 * shares (a clone: tfjs clones share data) is copied first, so no other tensor sees the change.
 * On other backends the weight is read, updated and assigned whole.
 */
import * as tf from '@tensorflow/tfjs';
import { loadAddon, type NativeAddon } from './native/addon.js';

/** What the wasm backend offers for in-place access (not in tfjs's public types). */
type HeapBackend = tf.KernelBackend & {
  typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array;
  refCount(dataId: object): number;
};

/** The moments of one table. */
interface TableState {
  readonly variable: tf.Variable;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** 1 for the rows that have had a gradient (the others have zero moments and do not move). */
  readonly seen: Uint8Array;
}

/** One table's gradient of a step: `grad` row i is the gradient of table row `rows[i]`. */
export interface RowGradient {
  variable: tf.Variable;
  /** Distinct row numbers. */
  rows: Int32Array;
  /** [rows.length * dim] gradient rows, in the order of `rows`. */
  grad: Float32Array;
  /** Multiplies the gradient (gradient-norm clipping); 1 when absent. */
  scale?: number;
}

export class TableAdam {
  readonly beta1 = 0.9;
  readonly beta2 = 0.999;
  readonly epsilon: number;
  private readonly tables: TableState[];
  /** beta1^t, beta2^t for the step about to be taken (t counted from 1), as tf.train.adam keeps them. */
  private powers: [number, number];

  /** @param variables the tables, in a fixed order (checkpoints follow it) */
  constructor(variables: tf.Variable[], public learningRate: number) {
    this.epsilon = tf.backend().epsilon();
    this.tables = variables.map((variable) => ({ variable, m: new Float32Array(variable.size), v: new Float32Array(variable.size), seen: new Uint8Array(variable.shape[0]) }));
    this.powers = [this.beta1, this.beta2];
  }

  /**
   * One step of every table: the rows in `grads` with their gradient, every other row that has
   * had a gradient before with zero. Call once per training step (the tables share the step
   * count, as the dense Adam of the other weights does); a table missing from `grads` still
   * takes its zero-gradient step.
   */
  step(grads: RowGradient[]): void {
    const [p1, p2] = this.powers;
    const c1 = 1 - p1;
    const c2 = 1 - p2;
    const { beta1: b1, beta2: b2, epsilon: eps, learningRate: lr } = this;
    for (const g of grads) {
      if (!this.tables.some((t) => t.variable === g.variable)) throw new Error(`TableAdam: ${g.variable.name} is not one of its tables`);
      const dim = g.variable.shape[1] ?? 1;
      if (g.grad.length !== g.rows.length * dim) throw new Error(`TableAdam: ${g.rows.length} rows need ${g.rows.length * dim} gradient values, got ${g.grad.length}`);
    }
    for (const table of this.tables) {
      const { variable, m, v, seen } = table;
      const rowsTotal = variable.shape[0];
      const dim = variable.shape[1] ?? 1;
      // Row r's gradient is row gradOf[r] of `grad` (-1: zero).
      const gradOf = new Int32Array(rowsTotal).fill(-1);
      const given = grads.find((g) => g.variable === variable);
      if (given) given.rows.forEach((r, i) => { gradOf[r] = i; seen[r] = 1; });
      const grad = given?.grad;
      const scale = given?.scale ?? 1;
      this.updateRows(variable, (w, addon) => {
        if (addon) {
          addon.tableAdam(w, m, v, seen, gradOf, grad ?? new Float32Array(0), Int32Array.from([rowsTotal, dim, given?.rows.length ?? 0]),
            Float64Array.from([lr, b1, b2, eps, c1, c2, scale]));
          return;
        }
        for (let r = 0; r < rowsTotal; r++) {
          if (!seen[r]) continue;
          const gi = gradOf[r];
          const base = r * dim;
          for (let j = base; j < base + dim; j++) {
            // A row without gradient takes the step of g = 0 (its momentum).
            const gj = gi < 0 ? 0 : grad![gi * dim + j - base] * scale;
            const mj = (m[j] = b1 * m[j] + (1 - b1) * gj);
            const vj = (v[j] = b2 * v[j] + (1 - b2) * gj * gj);
            w[j] -= lr * ((mj / c1) / (Math.sqrt(vj / c2) + eps));
          }
        }
      });
    }
    this.powers = [p1 * b1, p2 * b2];
  }

  /**
   * Runs `update` on the variable's values and makes them the variable's. On wasm it gets the
   * native addon when that has the fused loop (C++, about 5x the JavaScript loop's speed).
   */
  private updateRows(variable: tf.Variable, update: (values: Float32Array, addon?: NativeAddon) => void): void {
    const backend = tf.backend() as HeapBackend;
    if (backend.typedArrayFromHeap && variable.dtype === 'float32') {
      if (backend.refCount(variable.dataId) > 1) {
        // Shared with a clone: write into a copy of our own.
        const own = tf.tidy(() => tf.add(variable, tf.scalar(0)));
        variable.assign(own);
        own.dispose();
      }
      const { addon } = loadAddon();
      update(backend.typedArrayFromHeap({ dataId: variable.dataId, shape: variable.shape, dtype: 'float32' }), typeof addon?.tableAdam === 'function' ? addon : undefined);
      return;
    }
    const values = variable.dataSync().slice() as Float32Array;
    update(values);
    const t = tf.tensor(values, variable.shape, 'float32');
    variable.assign(t);
    t.dispose();
  }

  /** The running powers [beta1^t, beta2^t] of the next step (saved in checkpoints). */
  getPowers(): [number, number] {
    return [...this.powers];
  }

  /** The moments as tensors, m then v per table in order (new tensors: the caller disposes them). */
  getMoments(): tf.Tensor[] {
    return this.tables.flatMap((t) => [tf.tensor(t.m, t.variable.shape), tf.tensor(t.v, t.variable.shape)]);
  }

  /** Restores what getMoments and getPowers returned. */
  setState(moments: readonly tf.Tensor[], powers: readonly [number, number]): void {
    if (moments.length !== 2 * this.tables.length) throw new Error(`TableAdam: ${2 * this.tables.length} moment tensors expected, got ${moments.length}`);
    this.tables.forEach((t, k) => {
      for (const [which, dst] of [[0, t.m], [1, t.v]] as const) {
        const src = moments[2 * k + which];
        if (src.size !== dst.length) throw new Error(`TableAdam: moment of ${t.variable.name} has ${src.size} values, expected ${dst.length}`);
        dst.set(src.dataSync() as Float32Array);
      }
      // A row has had a gradient when its second moment is not zero (any gradient leaves v > 0, or m != 0).
      const dim = t.variable.shape[1] ?? 1;
      for (let r = 0; r < t.seen.length; r++) {
        let any = 0;
        for (let j = r * dim; j < (r + 1) * dim && !any; j++) any = t.m[j] !== 0 || t.v[j] !== 0 ? 1 : 0;
        t.seen[r] = any;
      }
    });
    this.powers = [powers[0], powers[1]];
  }
}
