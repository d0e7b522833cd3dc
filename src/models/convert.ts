/**
 * torchvision checkpoint (.pth) -> tfjs layers model (model.json + weights.bin).
 *
 * Every tfjs weight maps to one state_dict key by its layer name (the architectures name layers
 * after torchvision's module prefixes):
 *   Conv2D   kernel [kh,kw,in,out]  <- `<layer>.weight` [out,in,kh,kw] (OIHW -> HWIO)
 *            bias   [out]           <- `<layer>.bias`
 *   Dense    kernel [in,out]        <- `<layer>.weight` [out,in]; when the Dense follows a Flatten of
 *                                      [h,w,c] (VGG's classifier.0), PyTorch's rows are in (c,h,w)
 *                                      order: viewed as [out,c,h,w] and permuted to [h,w,c,out]
 *            bias   [out]           <- `<layer>.bias`
 *   BatchNorm gamma/beta/moving_mean/moving_variance <- weight/bias/running_mean/running_var
 * `num_batches_tracked` is ignored. Every key and shape is checked before anything is written.
 *
 * Memory: the output weights are one ArrayBuffer (the model's size); storages are streamed from
 * the checkpoint and scattered into it chunk by chunk, so no storage is held whole.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError, UsageError } from '../core/errors.js';
import { fileSaveHandler } from '../core/model_io.js';
import { isModelName, MODEL_NAMES, MODELS, type ModelName } from './registry.js';
import { openTorchCheckpoint, type ChunkConsumer, type TorchTensorRef } from './torch_checkpoint.js';

/** How one tfjs weight is filled from one state_dict tensor. */
export interface WeightMapping {
  /** tfjs weight name, e.g. `layer4.1.conv2/kernel`. */
  tfjsName: string;
  tfjsShape: number[];
  /** state_dict key, e.g. `layer4.1.conv2.weight`. */
  torchKey: string;
  /** Shape the state_dict tensor must have. */
  torchShape: number[];
  /** The torch tensor is viewed as `viewShape` (row-major) and transposed by `perm` to the tfjs layout. */
  viewShape: number[];
  perm: number[];
}

const BN_PARAMS: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };

/** The state_dict key and layout for every weight of a tfjs model built by a registry architecture. */
export function weightMappings(model: tf.LayersModel): WeightMapping[] {
  const out: WeightMapping[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    for (const w of layer.weights) {
      const param = w.originalName.split('/').pop()!;
      const shape = w.shape as number[];
      const base = { tfjsName: w.originalName, tfjsShape: shape };
      if (cls === 'Conv2D' && param === 'kernel') {
        const [kh, kw, cin, cout] = shape;
        out.push({ ...base, torchKey: `${layer.name}.weight`, torchShape: [cout, cin, kh, kw], viewShape: [cout, cin, kh, kw], perm: [2, 3, 1, 0] });
      } else if (cls === 'Dense' && param === 'kernel') {
        const [cin, cout] = shape;
        const inbound = layer.inboundNodes[0]?.inboundLayers[0];
        const flatIn = inbound?.getClassName() === 'Flatten' ? ((inbound.input as tf.SymbolicTensor).shape as number[]) : undefined;
        if (flatIn && flatIn.length === 4) {
          const [, h, wd, c] = flatIn; // NHWC feature map flattened in (h,w,c) order; PyTorch used (c,h,w)
          out.push({ ...base, torchKey: `${layer.name}.weight`, torchShape: [cout, cin], viewShape: [cout, c, h, wd], perm: [2, 3, 1, 0] });
        } else {
          out.push({ ...base, torchKey: `${layer.name}.weight`, torchShape: [cout, cin], viewShape: [cout, cin], perm: [1, 0] });
        }
      } else if ((cls === 'Conv2D' || cls === 'Dense') && param === 'bias') {
        out.push({ ...base, torchKey: `${layer.name}.bias`, torchShape: shape, viewShape: shape, perm: [0] });
      } else if (cls === 'BatchNormalization' && BN_PARAMS[param]) {
        out.push({ ...base, torchKey: `${layer.name}.${BN_PARAMS[param]}`, torchShape: shape, viewShape: shape, perm: [0] });
      } else {
        throw new Error(`no state_dict mapping for ${cls} weight ${w.originalName}`);
      }
    }
  }
  return out;
}

const fmt = (s: number[]) => `[${s.join(',')}]`;

/**
 * Compares a checkpoint's keys and shapes with an architecture's. Returns '' when they match,
 * else a short description of the first differences.
 */
export function describeMismatch(mappings: WeightMapping[], tensors: Map<string, TorchTensorRef>): string {
  const expected = new Map(mappings.map((m) => [m.torchKey, m]));
  const missing = mappings.filter((m) => !tensors.has(m.torchKey)).map((m) => m.torchKey);
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k) && !k.endsWith('num_batches_tracked'));
  const wrongShape = mappings
    .filter((m) => tensors.has(m.torchKey) && fmt(tensors.get(m.torchKey)!.shape) !== fmt(m.torchShape))
    .map((m) => `${m.torchKey} is ${fmt(tensors.get(m.torchKey)!.shape)}, expected ${fmt(m.torchShape)}`);
  const parts: string[] = [];
  const first = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? `, ... (${xs.length} in all)` : '');
  if (missing.length) parts.push(`missing keys: ${first(missing)}`);
  if (unexpected.length) parts.push(`unexpected keys: ${first(unexpected)}`);
  if (wrongShape.length) parts.push(`wrong shapes: ${first(wrongShape)}`);
  return parts.join('; ');
}

/** Row-major strides of a shape. */
function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function isContiguous(ref: TorchTensorRef): boolean {
  const want = stridesOf(ref.shape);
  return ref.shape.every((n, i) => n === 1 || ref.stride[i] === want[i]);
}

/**
 * Writes a tensor's elements, arriving in row-major order of `viewShape`, into `dst` transposed by
 * `perm`. Rows of the outermost source axis (output channels / units, which every mapping moves to
 * the innermost destination axis) are staged in blocks of BLOCK_ROWS, so that the scatter writes
 * runs of BLOCK_ROWS consecutive floats instead of one float per cache line (VGG's classifier.0
 * went from ~8 s to well under a second).
 */
const BLOCK_ROWS = 32;

export class PermutedWriter {
  readonly numel: number;
  count = 0;
  private readonly rows: number;
  private readonly rowSize: number;
  private readonly restShape: number[];
  private readonly restStride: number[];
  private readonly rowStride: number;
  private stage: Float32Array | undefined;
  private staged = 0;
  private rowStart = 0;

  constructor(private readonly dst: Float32Array, viewShape: number[], perm: number[]) {
    this.numel = viewShape.reduce((a, b) => a * b, 1);
    const ds = stridesOf(perm.map((p) => viewShape[p]));
    // Source axis k is destination axis perm.indexOf(k).
    const dstStride = viewShape.map((_, k) => ds[perm.indexOf(k)]);
    this.rows = viewShape[0];
    this.rowSize = this.numel / this.rows;
    this.rowStride = dstStride[0];
    this.restShape = viewShape.slice(1);
    this.restStride = dstStride.slice(1);
  }

  push(values: Float32Array): void {
    let i = 0;
    while (i < values.length) {
      const capacity = Math.min(BLOCK_ROWS, this.rows - this.rowStart) * this.rowSize;
      this.stage ??= new Float32Array(Math.min(BLOCK_ROWS, this.rows) * this.rowSize);
      const take = Math.min(values.length - i, capacity - this.staged);
      this.stage.set(values.subarray(i, i + take), this.staged);
      this.staged += take;
      i += take;
      if (this.staged === capacity) this.flush();
    }
    this.count += values.length;
  }

  /** Scatters the staged rows: for each position in a row, the block's rows go to consecutive slots. */
  private flush(): void {
    const { dst, stage, rowSize, restShape, restStride, rowStride } = this;
    const nRows = this.staged / rowSize;
    const idx = new Array<number>(restShape.length).fill(0);
    let base = this.rowStart * rowStride;
    for (let j = 0; j < rowSize; j++) {
      for (let r = 0, d = base; r < nRows; r++, d += rowStride) dst[d] = stage![r * rowSize + j];
      // advance the odometer over the non-row axes
      for (let k = restShape.length - 1; k >= 0; k--) {
        idx[k] += 1;
        base += restStride[k];
        if (idx[k] < restShape[k]) break;
        base -= idx[k] * restStride[k];
        idx[k] = 0;
      }
    }
    this.rowStart += nRows;
    this.staged = 0;
    if (this.rowStart === this.rows) this.stage = undefined;
  }
}

/**
 * Turns byte chunks of one float32 storage into element runs for the tensors that view it (each a
 * contiguous element range [offset, offset + numel)), carrying bytes split across chunk borders.
 */
export function storageConsumer(targets: Array<{ offset: number; writer: PermutedWriter }>): ChunkConsumer {
  let carry = Buffer.alloc(0);
  let nextElement = 0;
  return (chunk) => {
    const bytes = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const usable = bytes.length - (bytes.length % 4);
    carry = Buffer.from(bytes.subarray(usable));
    if (usable === 0) return;
    const aligned = new Uint8Array(usable);
    aligned.set(bytes.subarray(0, usable)); // fresh buffer: 4-byte aligned for the Float32Array view
    const values = new Float32Array(aligned.buffer); // little-endian host (x86, arm)
    const start = nextElement;
    const end = start + values.length;
    for (const t of targets) {
      const lo = Math.max(start, t.offset);
      const hi = Math.min(end, t.offset + t.writer.numel);
      if (lo < hi) t.writer.push(values.subarray(lo - start, hi - start));
    }
    nextElement = end;
  };
}

/**
 * Runs `fn` on a throwaway build of a registry architecture, zero-initialised on the cpu backend,
 * whose zero-filled buffers are never touched (no resident memory, unlike the wasm heap, which
 * never shrinks); the model is disposed and the previous backend restored. Lets the converter
 * read the layout, and commands check a --layer before a checkpoint is downloaded.
 */
export async function withArchitecture<T>(arch: ModelName, fn: (model: tf.LayersModel) => T): Promise<T> {
  const previous = tf.getBackend();
  if (previous !== 'cpu') await tf.setBackend('cpu');
  // The cpu backend greets its first use in Node with a banner recommending tfjs-node; here it only
  // holds a throwaway model, so the advice would mislead.
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
  try {
    const model = MODELS[arch].build({ zeroInit: true });
    try {
      return fn(model);
    } finally {
      model.dispose();
    }
  } finally {
    if (previous && previous !== 'cpu') await tf.setBackend(previous);
  }
}

/**
 * The weight mappings and Keras-style topology JSON of a registry architecture. The saved
 * topology keeps the 'zeros' initialisers, which also makes loading fast (tfjs initialises every
 * layer before it assigns the saved weights).
 */
export async function architectureLayout(arch: ModelName): Promise<{ mappings: WeightMapping[]; topology: object }> {
  return withArchitecture(arch, (model) => ({ mappings: weightMappings(model), topology: model.toJSON(null, false) as unknown as object }));
}

/** Where a conversion came from, recorded in model.json's userDefinedMetadata.dnnkit. */
export interface ConvertSource {
  /** The checkpoint's file name (default: the basename of its path). */
  source?: string;
  /** Its SHA-256 (hex) and size, when the caller computed them. */
  sha256?: string;
  bytes?: number;
}

export interface ConvertResult {
  arch: ModelName;
  outDir: string;
  checkpointFormat: 'zip' | 'legacy';
  parameters: number;
  weightBytes: number;
}

/**
 * Opens a checkpoint and checks it against architecture `arch` (keys, shapes, float32,
 * contiguous) without reading its tensors; throws the converter's one-line errors. The caller
 * closes `ckpt`. Lets `models convert` refuse a wrong file before hashing or converting it.
 */
export async function openCheckedCheckpoint(pthPath: string, arch: string): Promise<{ ckpt: Awaited<ReturnType<typeof openTorchCheckpoint>>; mappings: WeightMapping[]; topology: object }> {
  if (!isModelName(arch)) throw new UsageError(`unknown --arch '${arch}'; use one of ${MODEL_NAMES.join(', ')}`);
  const ckpt = await openTorchCheckpoint(pthPath);
  try {
    const { mappings, topology } = await architectureLayout(arch);
    const mismatch = describeMismatch(mappings, ckpt.tensors);
    if (mismatch) {
      let other: ModelName | undefined;
      for (const n of MODEL_NAMES.filter((n) => n !== arch)) {
        if (describeMismatch((await architectureLayout(n)).mappings, ckpt.tensors) === '') other = n;
      }
      throw new InputError(`${path.basename(pthPath)} is not a ${arch} checkpoint (${mismatch})${other ? `; it looks like ${other}: use --arch ${other}` : ''}`);
    }
    for (const m of mappings) {
      const ref = ckpt.tensors.get(m.torchKey)!;
      if (ref.dtype !== 'float32') throw new InputError(`${pthPath}: ${m.torchKey} is ${ref.dtype}; dnnkit converts float32 checkpoints (save model.float().state_dict())`);
      if (!isContiguous(ref)) throw new InputError(`${pthPath}: ${m.torchKey} is not contiguous; save {k: v.contiguous() for k, v in state_dict.items()}`);
    }
    return { ckpt, mappings, topology };
  } catch (err) {
    ckpt.close();
    throw err;
  }
}

/**
 * Converts a torchvision checkpoint of architecture `arch` into a tfjs layers model in `outDir`
 * (model.json + weights.bin, each written atomically, model.json last). Bad input (missing,
 * truncated, non-zip, non-torch file, another architecture) throws a one-line InputError before
 * anything is written.
 */
export async function convertCheckpoint(pthPath: string, arch: string, outDir: string, opts: ConvertSource = {}): Promise<ConvertResult> {
  const { ckpt, mappings, topology } = await openCheckedCheckpoint(pthPath, arch);
  try {
    // One buffer for all weights, in mapping order; each weight a Float32Array view of it.
    const total = mappings.reduce((n, m) => n + m.tfjsShape.reduce((a, b) => a * b, 1), 0);
    const weightData = new ArrayBuffer(total * 4);
    const byStorage = new Map<string, Array<{ offset: number; writer: PermutedWriter; key: string }>>();
    const writers: Array<{ key: string; writer: PermutedWriter }> = [];
    let at = 0;
    for (const m of mappings) {
      const ref = ckpt.tensors.get(m.torchKey)!;
      const numel = m.tfjsShape.reduce((a, b) => a * b, 1);
      const writer = new PermutedWriter(new Float32Array(weightData, at * 4, numel), m.viewShape, m.perm);
      at += numel;
      const list = byStorage.get(ref.storageKey) ?? [];
      list.push({ offset: ref.offset, writer, key: m.torchKey });
      byStorage.set(ref.storageKey, list);
      writers.push({ key: m.torchKey, writer });
    }
    await ckpt.readStorages((key) => {
      const targets = byStorage.get(key);
      return targets ? storageConsumer(targets) : undefined;
    });
    const short = writers.find((w) => w.writer.count !== w.writer.numel);
    if (short) throw new InputError(`${pthPath}: ${short.key} got ${short.writer.count} of ${short.writer.numel} values; the checkpoint is damaged`);

    const weightSpecs: tf.io.WeightsManifestEntry[] = mappings.map((m) => ({ name: m.tfjsName, shape: m.tfjsShape, dtype: 'float32' }));
    await fileSaveHandler(outDir).save!({
      modelTopology: topology,
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: 'dnnkit models convert',
      weightSpecs,
      weightData,
      userDefinedMetadata: {
        dnnkit: {
          arch, source: opts.source ?? path.basename(pthPath), sourceSha256: opts.sha256, sourceBytes: opts.bytes, convertedAt: new Date().toISOString(),
          outputsLogits: true, preprocessing: 'imagenet', classes: 'imagenet',
        },
      },
    });
    return { arch: arch as ModelName, outDir, checkpointFormat: ckpt.format, parameters: total, weightBytes: total * 4 };
  } finally {
    ckpt.close();
  }
}
