/**
 * Reading PyTorch checkpoints (`torch.save(state_dict)`) without PyTorch, streaming, so that a
 * 528 MB VGG-16 file is never held in memory whole.
 *
 * Two formats exist:
 * - zip (torch >= 1.6 default): `<prefix>/data.pkl` (the pickled state_dict, tensors as persistent
 *   ids `('storage', <storage class>, key, location, numel)`), `<prefix>/data/<key>` (each storage's
 *   raw little-endian bytes), `<prefix>/version`. Read with yauzl.
 * - legacy (torch < 1.6, e.g. torchvision's 2017 vgg16-397923af.pth): five pickles in a row — magic
 *   number, protocol version, sys info, the state_dict (persistent ids `('storage', <class>, key,
 *   location, numel, view_metadata)`), the list of storage keys — then, for each key in that list,
 *   an int64 element count and the raw bytes.
 * The pickles are parsed with pickleparser; `torch._utils._rebuild_tensor_v2(storage, offset, size,
 * stride, ...)` becomes a TorchTensorRef (metadata only) and `collections.OrderedDict` a Map.
 *
 * Untrusted files: nothing in a pickle runs (pickleparser only builds plain objects), and, as
 * `torch.load(weights_only=True)`, a pickle that names any global outside the tensor-rebuilding
 * allow-list (TENSOR_GLOBALS, the storage classes) is refused. Pickles are read only up to
 * MAX_PICKLE_BYTES (a zip bomb is refused from its declared size, and again while inflating in case
 * the header lies), and every zip entry read is checked against its CRC-32.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import yauzl from 'yauzl';
import { BufferReader, NameRegistry, Parser } from 'pickleparser';
import { InputError } from '../core/errors.js';
import { showPath } from '../core/quote.js';

/** A tensor in the checkpoint: where its elements are, not the elements. */
export interface TorchTensorRef {
  /** The storage this tensor views. */
  storageKey: string;
  dtype: TorchDtype;
  /** Offset into the storage, in elements. */
  offset: number;
  shape: number[];
  stride: number[];
}

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** torch storage class name -> dtype and element size in bytes. */
const STORAGE_TYPES: Record<string, [TorchDtype, number]> = {
  FloatStorage: ['float32', 4],
  DoubleStorage: ['float64', 8],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ShortStorage: ['int16', 2],
  CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

interface StorageInfo {
  key: string;
  dtype: TorchDtype;
  elementSize: number;
  numel: number;
}

/** Receives a storage's bytes in order; `byteOffset` is the position of `chunk` in the storage. */
export type ChunkConsumer = (chunk: Buffer, byteOffset: number) => void;

export interface TorchCheckpoint {
  format: 'zip' | 'legacy';
  /** state_dict entries in file order (non-tensor entries are left out). */
  tensors: Map<string, TorchTensorRef>;
  /**
   * Streams every storage once, in file order. `consumerFor(key)` returns the function that
   * receives that storage's bytes, or undefined to skip the storage.
   */
  readStorages(consumerFor: (storageKey: string, elementSize: number) => ChunkConsumer | undefined): Promise<void>;
  close(): void;
}

/**
 * The legacy format's first pickle: protocol 2, LONG1 of 10 bytes = 0x1950a86a20f9469cfc6c, STOP.
 * (pickleparser cannot read a 10-byte LONG1, so it is matched as bytes.)
 */
/**
 * Largest pickle dnnkit parses (zip `data.pkl`, or the legacy format's leading pickles). A
 * state_dict's pickle holds names, shapes and strides only (kilobytes even for VGG-16); anything
 * near this bound is a zip bomb or not a checkpoint.
 */
export const MAX_PICKLE_BYTES = 64 << 20;

/** Globals a state_dict pickle may name besides the storage classes (`torch.FloatStorage`, ...). */
export const TENSOR_GLOBALS = ['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter'] as const;

/**
 * CRC-32 (the zip/ISO-HDLC polynomial 0xEDB88320) of `data`, continuing from `crc`. Node's
 * zlib.crc32 exists only from Node 20.15 / 22.2 and package.json allows any Node 20, so older
 * versions use this table-driven fallback (a few hundred MB/s: fine for checkpoints).
 */
export const crc32: (data: Uint8Array, crc?: number) => number = typeof (zlib as { crc32?: unknown }).crc32 === 'function'
  ? (data, crc = 0) => zlib.crc32(data, crc)
  : crc32Table;

let CRC_TABLE: Uint32Array | undefined;
export function crc32Table(data: Uint8Array, crc = 0): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * A pickle name resolver that knows the tensor-rebuilding globals and records every other name
 * it is asked for (as a stub object, so nothing runs); the caller refuses the pickle afterwards
 * when `refused` is not empty, naming the first.
 */
class AllowListNames extends NameRegistry {
  readonly refused: string[] = [];

  override onMissingName(module: string, name: string) {
    // Storage classes are allowed by name pattern: storageInfoFromPid names an unsupported one.
    if (!(module === 'torch' && /^[A-Za-z0-9]+Storage$/.test(name))) this.refused.push(`${module}.${name}`);
    return super.onMissingName(module, name);
  }
}

/** Throws the refusal for a pickle that named globals outside the allow-list. */
function refuseGlobals(names: AllowListNames, file: string): void {
  if (names.refused.length === 0) return;
  const [first] = names.refused;
  const more = new Set(names.refused).size - 1;
  throw new InputError(`${showPath(file)}: the pickle names the global '${first}'${more ? ` (and ${more} other${more > 1 ? 's' : ''})` : ''}, which a state_dict does not need; `
    + `dnnkit refuses it, as torch.load(weights_only=True) does (allowed: ${TENSOR_GLOBALS.join(', ')}, torch.*Storage). If you trust the file, re-save its weights with torch.save(model.state_dict(), path)`);
}

const LEGACY_MAGIC = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

function storageInfoFromPid(pid: unknown, file: string): StorageInfo {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new InputError(`${showPath(file)}: unexpected persistent id in the pickle (${JSON.stringify(pid)?.slice(0, 80)}); not a torch.save checkpoint`);
  }
  const cls = pid[1] as { prototype?: { __name__?: string } };
  const clsName = cls?.prototype?.__name__ ?? String(cls);
  const type = STORAGE_TYPES[clsName];
  if (!type) throw new InputError(`${showPath(file)}: unsupported tensor storage type '${clsName}'`);
  return { key: String(pid[2]), dtype: type[0], elementSize: type[1], numel: Number(pid[4]) };
}

/**
 * Parses a torch pickle (data.pkl, or the legacy main pickle) whose persistent ids are storages.
 * Returns the flat state_dict (unwrapping {state_dict: ...}/{model: ...} and a DataParallel
 * `module.` prefix) and the storages it references.
 */
function parseStateDict(reader: BufferReader, file: string): { tensors: Map<string, TorchTensorRef>; storages: Map<string, StorageInfo> } {
  const storages = new Map<string, StorageInfo>();
  const names = new AllowListNames()
    .register('collections', 'OrderedDict', () => new Map())
    .register('torch._utils', '_rebuild_tensor_v2', (storage: StorageInfo, offset: number, size: number[], stride: number[]): TorchTensorRef => ({
      storageKey: storage.key, dtype: storage.dtype, offset: Number(offset), shape: [...size].map(Number), stride: [...stride].map(Number),
    }))
    .register('torch._utils', '_rebuild_tensor', (storage: StorageInfo, offset: number, size: number[], stride: number[]): TorchTensorRef => ({
      storageKey: storage.key, dtype: storage.dtype, offset: Number(offset), shape: [...size].map(Number), stride: [...stride].map(Number),
    }))
    .register('torch._utils', '_rebuild_parameter', (data: TorchTensorRef) => data);
  const parser = new Parser({
    nameResolver: names,
    unpicklingTypeOfDictionary: 'Map',
    persistentResolver: {
      resolve(pid: unknown) {
        const info = storageInfoFromPid(pid, file);
        const seen = storages.get(info.key);
        if (!seen) storages.set(info.key, info);
        return seen ?? info;
      },
    },
  });
  let root: unknown;
  try {
    root = parser.read(reader);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${showPath(file)}: the pickled state_dict could not be parsed (${(err as Error).message.split('\n')[0]}); is the file truncated or not a torch.save checkpoint?`);
  }
  // Unwrap common containers: {'state_dict': sd}, {'model': sd}.
  for (const wrapper of ['state_dict', 'model', 'model_state_dict']) {
    if (root instanceof Map && root.has(wrapper) && root.get(wrapper) instanceof Map) root = root.get(wrapper);
  }
  if (!(root instanceof Map)) {
    const proto = (root && typeof root === 'object' ? Object.getPrototypeOf(root) : undefined) as { __module__?: string; __name__?: string } | undefined;
    const what = proto?.__name__ ? `a pickled ${proto.__module__}.${proto.__name__} object` : `a ${typeof root}`;
    throw new InputError(`${showPath(file)}: the checkpoint holds ${what}, not a state_dict; save it with torch.save(model.state_dict(), path)`);
  }
  // A whole pickled model is reported above; any other non-tensor global is refused here.
  refuseGlobals(names, file);
  const tensors = new Map<string, TorchTensorRef>();
  const strip = [...root.keys()].every((k) => String(k).startsWith('module.'));
  for (const [k, v] of root) {
    if (v && typeof v === 'object' && 'storageKey' in v) tensors.set(strip ? String(k).slice(7) : String(k), v as TorchTensorRef);
  }
  if (tensors.size === 0) throw new InputError(`${showPath(file)}: the state_dict holds no tensors`);
  return { tensors, storages };
}

/** A pickle parser for the legacy format's other pickles (magic, sys info, keys): no globals at all. */
function plainParser(): { parser: Parser; names: AllowListNames } {
  const names = new AllowListNames();
  return { parser: new Parser({ nameResolver: names, unpicklingTypeOfDictionary: 'Map' }), names };
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) => (err ? reject(err) : resolve(zip)));
  });
}

function listEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (e: yauzl.Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))));
}

/**
 * Streams a zip entry to `consume`, counting bytes and computing its CRC-32: refuses an entry
 * that declares more than `maxBytes` before inflating, stops inflating once more than `maxBytes`
 * (or more than declared) arrive, and checks the count and CRC-32 against the central directory
 * at the end. `what` names the entry in messages.
 */
async function streamEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, file: string, what: string, maxBytes: number, consume: ChunkConsumer): Promise<void> {
  const shown = showPath(file);
  if (entry.uncompressedSize > maxBytes) {
    throw new InputError(`${shown}: ${what} declares ${entry.uncompressedSize} bytes, more than the ${maxBytes} dnnkit expects (a zip bomb, or not a torch.save checkpoint); nothing was inflated`);
  }
  const limit = Math.min(maxBytes, entry.uncompressedSize);
  let pos = 0;
  let crc = 0;
  try {
    const stream = await openEntry(zip, entry);
    for await (const c of stream) {
      const chunk = c as Buffer;
      if (pos + chunk.length > limit) {
        (stream as unknown as { destroy(): void }).destroy();
        throw new InputError(`${shown}: ${what} inflates to more than the ${limit} bytes its header declares (a zip bomb?); the checkpoint is damaged`);
      }
      crc = crc32(chunk, crc);
      consume(chunk, pos);
      pos += chunk.length;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${shown}: reading ${what} failed (${(err as Error).message.split('\n')[0]}); the checkpoint is damaged: download it again`);
  }
  if (pos !== entry.uncompressedSize) {
    throw new InputError(`${shown}: ${what} holds ${pos} bytes, its header says ${entry.uncompressedSize}; the checkpoint is damaged: download it again`);
  }
  if (crc !== entry.crc32 >>> 0) {
    throw new InputError(`${shown}: ${what} fails its CRC-32 check (stored ${hex32(entry.crc32)}, computed ${hex32(crc)}); the checkpoint is damaged: download it again`);
  }
}

const hex32 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** A small zip entry read whole (bounded by `maxBytes`, CRC checked). */
async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, file: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await streamEntry(zip, entry, file, entry.fileName, maxBytes, (c) => chunks.push(c));
  return Buffer.concat(chunks);
}

async function openZipCheckpoint(file: string): Promise<TorchCheckpoint> {
  let zip: yauzl.ZipFile;
  let entries: yauzl.Entry[];
  try {
    zip = await openZip(file);
    entries = await listEntries(zip);
  } catch (err) {
    throw new InputError(`${showPath(file)} is not a readable zip checkpoint (${(err as Error).message}); is it truncated? Download it again`);
  }
  try {
    const pkl = entries.find((e) => e.fileName === 'data.pkl' || e.fileName.endsWith('/data.pkl'));
    if (!pkl) throw new InputError(`${showPath(file)} is a zip file but not a PyTorch checkpoint (no data.pkl inside)`);
    const prefix = pkl.fileName.slice(0, -'data.pkl'.length);
    const byteorder = entries.find((e) => e.fileName === `${prefix}byteorder`);
    if (byteorder && (await readEntry(zip, byteorder, file, 64)).toString().trim() !== 'little') {
      throw new InputError(`${showPath(file)} was saved on a big-endian machine; dnnkit reads little-endian checkpoints (re-save it on x86/arm)`);
    }
    const { tensors, storages } = parseStateDict(new BufferReader(await readEntry(zip, pkl, file, MAX_PICKLE_BYTES)), file);
    const byName = new Map(entries.map((e) => [e.fileName, e]));
    for (const s of storages.values()) {
      const e = byName.get(`${prefix}data/${s.key}`);
      if (!e) throw new InputError(`${showPath(file)}: storage '${s.key}' is missing from the zip; the checkpoint is damaged`);
      // torch writes each storage's bytes exactly; a larger entry would only be inflated for nothing.
      if (e.uncompressedSize !== s.numel * s.elementSize) {
        throw new InputError(`${showPath(file)}: storage '${s.key}' holds ${e.uncompressedSize} bytes, expected ${s.numel * s.elementSize}; the checkpoint is damaged`);
      }
    }
    const order = [...storages.values()].sort((a, b) => byName.get(`${prefix}data/${a.key}`)!.relativeOffsetOfLocalHeader - byName.get(`${prefix}data/${b.key}`)!.relativeOffsetOfLocalHeader);
    return {
      format: 'zip',
      tensors,
      async readStorages(consumerFor) {
        for (const s of order) {
          const consume = consumerFor(s.key, s.elementSize);
          if (!consume) continue;
          const entry = byName.get(`${prefix}data/${s.key}`)!;
          await streamEntry(zip, entry, file, `storage '${s.key}'`, s.numel * s.elementSize, consume);
        }
      },
      close: () => zip.close(),
    };
  } catch (err) {
    zip.close();
    throw err;
  }
}

/** Reads the legacy format's leading pickles from the head of the file (grows the head if needed). */
async function openLegacyCheckpoint(file: string, size: number, chunkSize: number): Promise<TorchCheckpoint> {
  const fh = await fsp.open(file, 'r');
  let head: Buffer;
  let headLen = Math.min(size, 1 << 20, MAX_PICKLE_BYTES);
  let parsed: { tensors: Map<string, TorchTensorRef>; storages: Map<string, StorageInfo>; keys: string[]; dataStart: number } | undefined;
  try {
    for (;;) {
      head = Buffer.alloc(headLen);
      await fh.read(head, 0, headLen, 0);
      try {
        if (!head.subarray(0, LEGACY_MAGIC.length).equals(LEGACY_MAGIC)) {
          throw new InputError(`${showPath(file)} is not a PyTorch checkpoint (a pickle without torch's magic number)`);
        }
        const reader = new BufferReader(head.subarray(LEGACY_MAGIC.length));
        const { parser: plain, names: plainNames } = plainParser();
        const protocol = plain.read<number>(reader);
        if (Number(protocol) !== 1001) throw new InputError(`${showPath(file)}: unsupported legacy checkpoint protocol ${protocol}`);
        plain.read(reader); // sys_info: {little_endian, type_sizes, ...}
        const { tensors, storages } = parseStateDict(reader, file);
        const keys = (plain.read<unknown[]>(reader) ?? []).map(String);
        refuseGlobals(plainNames, file);
        parsed = { tensors, storages, keys, dataStart: LEGACY_MAGIC.length + reader.position };
        break;
      } catch (err) {
        // A pickle cut off by the end of the head: read more (the pickles are small, but be safe).
        if (headLen < Math.min(size, MAX_PICKLE_BYTES) && !(err instanceof InputError && !/could not be parsed/.test(err.message))) {
          headLen = Math.min(size, headLen * 4, MAX_PICKLE_BYTES);
          continue;
        }
        if (err instanceof InputError) throw err;
        throw new InputError(`${showPath(file)}: not a readable legacy PyTorch checkpoint (${(err as Error).message.split('\n')[0]})`);
      }
    }
  } finally {
    await fh.close();
  }
  const { tensors, storages, keys, dataStart } = parsed!;
  // Sizes are known up front: check that the file is long enough (truncated downloads).
  let need = dataStart;
  for (const k of keys) {
    const s = storages.get(k);
    if (!s) throw new InputError(`${showPath(file)}: storage '${k}' is listed but never used; the checkpoint is damaged`);
    need += 8 + s.numel * s.elementSize;
  }
  if (size < need) throw new InputError(`${showPath(file)} is truncated (${size} bytes, the checkpoint needs ${need}); download it again`);
  return {
    format: 'legacy',
    tensors,
    async readStorages(consumerFor) {
      // Sequential parse: [int64 numel][numel * elementSize bytes] per key in `keys` order.
      let i = 0;
      let header: Buffer | undefined = Buffer.alloc(0);
      let remaining = 0;
      let pos = 0;
      let consume: ChunkConsumer | undefined;
      const stream = createReadStream(file, { start: dataStart, highWaterMark: chunkSize });
      for await (const c of stream) {
        let chunk = c as Buffer;
        while (chunk.length > 0 && i < keys.length) {
          const s = storages.get(keys[i])!;
          if (header) {
            const take = Math.min(8 - header.length, chunk.length);
            header = Buffer.concat([header, chunk.subarray(0, take)]);
            chunk = chunk.subarray(take);
            if (header.length < 8) break;
            const numel = Number(header.readBigInt64LE(0));
            if (numel !== s.numel) throw new InputError(`${showPath(file)}: storage '${s.key}' has ${numel} elements, the pickle says ${s.numel}; the checkpoint is damaged`);
            header = undefined;
            remaining = numel * s.elementSize;
            pos = 0;
            consume = consumerFor(s.key, s.elementSize);
          }
          const take = Math.min(remaining, chunk.length);
          if (take > 0) consume?.(chunk.subarray(0, take), pos);
          pos += take;
          remaining -= take;
          chunk = chunk.subarray(take);
          if (remaining === 0) {
            i += 1;
            header = Buffer.alloc(0);
          }
        }
        if (i >= keys.length) break;
      }
      if (i < keys.length) throw new InputError(`${showPath(file)} is truncated (storage '${keys[i]}' incomplete); download it again`);
    },
    close: () => {},
  };
}

/**
 * Opens a checkpoint and parses its state_dict (metadata only). Throws a one-line InputError for a
 * missing, empty, truncated, non-zip or non-torch file. `chunkSize`: read size of the legacy format's
 * stream (tests use tiny chunks to split every header).
 */
export async function openTorchCheckpoint(file: string, opts: { chunkSize?: number } = {}): Promise<TorchCheckpoint> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch {
    throw new InputError(`checkpoint not found: ${showPath(file)}`);
  }
  if (!st.isFile()) throw new InputError(`checkpoint is not a file: ${showPath(file)}`);
  if (st.size < 16) throw new InputError(`${showPath(file)} is not a PyTorch checkpoint (${st.size} bytes)`);
  const fh = await fsp.open(file, 'r');
  const magic = Buffer.alloc(4);
  await fh.read(magic, 0, 4, 0);
  await fh.close();
  if (magic.equals(ZIP_MAGIC)) return openZipCheckpoint(file);
  if (magic[0] === 0x80 && magic[1] >= 2) return openLegacyCheckpoint(file, st.size, opts.chunkSize ?? 1 << 20);
  throw new InputError(`${showPath(path.basename(file))} is not a PyTorch checkpoint (neither a zip nor a legacy torch.save file): ${showPath(file)}`);
}
