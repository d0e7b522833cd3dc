/**
 * Loading dnnkit's optional native addon (native/, oneDNN from Debian's libdnnl-dev, built at
 * install time by scripts/build_native.mjs). Absent or broken, dnnkit runs on wasm alone.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions: typed-array views of the wasm heap in, results written in place. */
export interface NativeAddon {
  /** params: N H W C KH KW F OH OW sh sw pt pl pb pr dh dw act (act 1 = relu). */
  conv2d(x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array, params: Int32Array): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, params: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, params: Int32Array): void;
  /** params: batchA batchB M K N transposeA transposeB act. */
  matmul(a: Float32Array, b: Float32Array, bias: Float32Array | null, c: Float32Array, params: Int32Array): void;
  relu(x: Float32Array, y: Float32Array): void;
  /** dx = x > 0 ? dy : 0 (dy * step(x)); NaN in x gives NaN. */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** params: rank shape[rank] begin[rank] size[rank]; y = x[begin : begin + size] (row-major). */
  slice(x: Float32Array, y: Float32Array, params: Int32Array): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null,
    scale: Float32Array | null, y: Float32Array, params: Int32Array, epsilon: number): void;
  /** params: N H W C OH OW KH KW sh sw pt pl. */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, params: Int32Array): void;
  /** params: rows cols; y[c] = sum_r x[r, c]. */
  sumRows(x: Float32Array, y: Float32Array, params: Int32Array): void;
  /**
   * A whole LSTM layer (gates i|f|g|o) over a sequence, params: time batch in units reverse.
   * x [time, batch, in], wx [in, 4u], wh [u, 4u], b [4u] -> h, c [time, batch, u], gates [time, batch, 4u].
   */
  lstmSeq(x: Float32Array, wx: Float32Array, wh: Float32Array, b: Float32Array, h: Float32Array, c: Float32Array,
    gates: Float32Array, params: Int32Array): void;
  /** Its backprop through time: dy [time, batch, u] + the forward's tensors -> dx, dwx, dwh, db. */
  lstmSeqGrad(dy: Float32Array, x: Float32Array, wx: Float32Array, wh: Float32Array, h: Float32Array, c: Float32Array,
    gates: Float32Array, dx: Float32Array, dwx: Float32Array, dwh: Float32Array, db: Float32Array, params: Int32Array): void;
  /**
   * params: op (0 add, 1 sub, 2 mul, 3 div) aPeriod bPeriod: an operand's period is 0 when it has
   * y's size, else it repeats every `period` elements (1: a scalar; C: a bias over [..., C]).
   */
  binary(a: Float32Array, b: Float32Array, y: Float32Array, params: Int32Array): void;
  /** params: op (0 sqrt, 1 square). */
  unary(x: Float32Array, y: Float32Array, params: Int32Array): void;
  /** params: rows slice; y[i] = x[indices[i]] (rows of `slice` floats; indices checked by the caller too). */
  gatherRows(x: Float32Array, indices: Int32Array, y: Float32Array, params: Int32Array): void;
  /** params: numSegments inner; y = 0, y[ids[i]] += x[i] in order (out-of-range ids dropped). */
  segmentSum(x: Float32Array, ids: Int32Array, y: Float32Array, params: Int32Array): void;
  /** params: rank shape[rank] stridesA[rank] stridesB[rank] (0 = broadcast); y[i] = a == b as bytes. */
  equal(a: Float32Array, b: Float32Array, y: Uint8Array, params: Int32Array): void;
  /**
   * One Adam step of a [rows, dim] table in place (core/table_adam.ts): params rows dim gradRows;
   * hyper lr beta1 beta2 epsilon (1 - beta1^t) (1 - beta2^t) scale; row r's gradient is grad row
   * gradOf[r] (-1: zero); rows with seen[r] = 0 are skipped.
   */
  tableAdam(w: Float32Array, m: Float32Array, v: Float32Array, seen: Uint8Array, gradOf: Int32Array, grad: Float32Array,
    params: Int32Array, hyper: Float64Array): void;
  /**
   * params fromRows toRows dim; out = 0, then out[to[j]] += weights[j] * src[from[j]] for each j in
   * order (rows of dim floats; sums in double, stored as float): the subword bag and its gradient.
   */
  bagScatter(src: Float32Array, from: Int32Array, to: Int32Array, weights: Float32Array, out: Float32Array, params: Int32Array): void;
  /**
   * One dense tf.train.adam step into new buffers (core/optim.ts): hyper = -lr, beta1, beta2,
   * 1 - beta1, 1 - beta2, 1 - beta1^t, 1 - beta2^t, epsilon (each as the float32 tfjs uses).
   */
  adamStep(w: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, w2: Float32Array, m2: Float32Array,
    v2: Float32Array, hyper: Float64Array): void;
  setThreads(n: number): void;
  /** Cached oneDNN primitives (all kinds; at most 64 per kind) and the bytes of the shared reordered-filter scratch. */
  cacheStats(): { primitives: number; scratchBytes: number };
  threads(): number;
  /** libdnnl's version, e.g. '2.6.3'. */
  version(): string;
}

export const NATIVE_ENV = 'DNNKIT_NATIVE';
/** Path of another build of the addon to load instead (the sanitizer build: `npm run test:asan`). */
export const NATIVE_ADDON_ENV = 'DNNKIT_NATIVE_ADDON';

/** dist/src/core/native/ -> the project root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const ADDON_PATH = path.join(ROOT, 'native', 'build', 'Release', 'dnnkit_native.node');

export type AddonLoad = { addon: NativeAddon; problem?: undefined } | { addon?: undefined; problem: string };

let loaded: AddonLoad | undefined;

/** Loads the addon once; `problem` says why not (disabled, not built, failed to load). */
export function loadAddon(env: NodeJS.ProcessEnv = process.env): AddonLoad {
  if (env[NATIVE_ENV] === '0') return { problem: `${NATIVE_ENV}=0` };
  if (loaded) return loaded;
  const file = env[NATIVE_ADDON_ENV] ? path.resolve(env[NATIVE_ADDON_ENV]) : ADDON_PATH;
  if (env[NATIVE_ADDON_ENV] && !existsSync(file)) {
    loaded = { problem: `${NATIVE_ADDON_ENV}=${env[NATIVE_ADDON_ENV]} does not exist (build it with npm run build:native:asan)` };
    return loaded;
  }
  if (!existsSync(file)) {
    loaded = { problem: 'the native addon is not built (apt-get install libdnnl-dev, then npm rebuild)' };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    addon.version();
    loaded = { addon };
  } catch (err) {
    loaded = { problem: `the native addon did not load (${(err as Error).message.split('\n')[0]})` };
  }
  return loaded;
}
