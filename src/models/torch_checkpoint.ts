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
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import yauzl from 'yauzl';
import { BufferReader, NameRegistry, Parser } from 'pickleparser';
import { InputError } from '../core/errors.js';

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
const LEGACY_MAGIC = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

function storageInfoFromPid(pid: unknown, file: string): StorageInfo {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new InputError(`${file}: unexpected persistent id in the pickle (${JSON.stringify(pid)?.slice(0, 80)}); not a torch.save checkpoint`);
  }
  const cls = pid[1] as { prototype?: { __name__?: string } };
  const clsName = cls?.prototype?.__name__ ?? String(cls);
  const type = STORAGE_TYPES[clsName];
  if (!type) throw new InputError(`${file}: unsupported tensor storage type '${clsName}'`);
  return { key: String(pid[2]), dtype: type[0], elementSize: type[1], numel: Number(pid[4]) };
}

/**
 * Parses a torch pickle (data.pkl, or the legacy main pickle) whose persistent ids are storages.
 * Returns the flat state_dict (unwrapping {state_dict: ...}/{model: ...} and a DataParallel
 * `module.` prefix) and the storages it references.
 */
function parseStateDict(reader: BufferReader, file: string): { tensors: Map<string, TorchTensorRef>; storages: Map<string, StorageInfo> } {
  const storages = new Map<string, StorageInfo>();
  const names = new NameRegistry()
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
    throw new InputError(`${file}: the pickled state_dict could not be parsed (${(err as Error).message.split('\n')[0]}); is the file truncated or not a torch.save checkpoint?`);
  }
  // Unwrap common containers: {'state_dict': sd}, {'model': sd}.
  for (const wrapper of ['state_dict', 'model', 'model_state_dict']) {
    if (root instanceof Map && root.has(wrapper) && root.get(wrapper) instanceof Map) root = root.get(wrapper);
  }
  if (!(root instanceof Map)) {
    const proto = (root && typeof root === 'object' ? Object.getPrototypeOf(root) : undefined) as { __module__?: string; __name__?: string } | undefined;
    const what = proto?.__name__ ? `a pickled ${proto.__module__}.${proto.__name__} object` : `a ${typeof root}`;
    throw new InputError(`${file}: the checkpoint holds ${what}, not a state_dict; save it with torch.save(model.state_dict(), path)`);
  }
  const tensors = new Map<string, TorchTensorRef>();
  const strip = [...root.keys()].every((k) => String(k).startsWith('module.'));
  for (const [k, v] of root) {
    if (v && typeof v === 'object' && 'storageKey' in v) tensors.set(strip ? String(k).slice(7) : String(k), v as TorchTensorRef);
  }
  if (tensors.size === 0) throw new InputError(`${file}: the state_dict holds no tensors`);
  return { tensors, storages };
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

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await openEntry(zip, entry)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function openZipCheckpoint(file: string): Promise<TorchCheckpoint> {
  let zip: yauzl.ZipFile;
  let entries: yauzl.Entry[];
  try {
    zip = await openZip(file);
    entries = await listEntries(zip);
  } catch (err) {
    throw new InputError(`${file} is not a readable zip checkpoint (${(err as Error).message}); is it truncated? Download it again`);
  }
  try {
    const pkl = entries.find((e) => e.fileName === 'data.pkl' || e.fileName.endsWith('/data.pkl'));
    if (!pkl) throw new InputError(`${file} is a zip file but not a PyTorch checkpoint (no data.pkl inside)`);
    const prefix = pkl.fileName.slice(0, -'data.pkl'.length);
    const byteorder = entries.find((e) => e.fileName === `${prefix}byteorder`);
    if (byteorder && (await readEntry(zip, byteorder)).toString().trim() !== 'little') {
      throw new InputError(`${file} was saved on a big-endian machine; dnnkit reads little-endian checkpoints (re-save it on x86/arm)`);
    }
    const { tensors, storages } = parseStateDict(new BufferReader(await readEntry(zip, pkl)), file);
    const byName = new Map(entries.map((e) => [e.fileName, e]));
    for (const s of storages.values()) {
      const e = byName.get(`${prefix}data/${s.key}`);
      if (!e) throw new InputError(`${file}: storage '${s.key}' is missing from the zip; the checkpoint is damaged`);
      if (e.uncompressedSize < s.numel * s.elementSize) {
        throw new InputError(`${file}: storage '${s.key}' holds ${e.uncompressedSize} bytes, expected ${s.numel * s.elementSize}; the checkpoint is damaged`);
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
          let pos = 0;
          try {
            for await (const chunk of await openEntry(zip, byName.get(`${prefix}data/${s.key}`)!)) {
              consume(chunk as Buffer, pos);
              pos += (chunk as Buffer).length;
            }
          } catch (err) {
            if (err instanceof InputError) throw err;
            throw new InputError(`${file}: reading storage '${s.key}' failed (${(err as Error).message}); the checkpoint is damaged`);
          }
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
  let headLen = Math.min(size, 1 << 20);
  let parsed: { tensors: Map<string, TorchTensorRef>; storages: Map<string, StorageInfo>; keys: string[]; dataStart: number } | undefined;
  try {
    for (;;) {
      head = Buffer.alloc(headLen);
      await fh.read(head, 0, headLen, 0);
      try {
        if (!head.subarray(0, LEGACY_MAGIC.length).equals(LEGACY_MAGIC)) {
          throw new InputError(`${file} is not a PyTorch checkpoint (a pickle without torch's magic number)`);
        }
        const reader = new BufferReader(head.subarray(LEGACY_MAGIC.length));
        const plain = new Parser({ unpicklingTypeOfDictionary: 'Map' });
        const protocol = plain.read<number>(reader);
        if (Number(protocol) !== 1001) throw new InputError(`${file}: unsupported legacy checkpoint protocol ${protocol}`);
        plain.read(reader); // sys_info: {little_endian, type_sizes, ...}
        const { tensors, storages } = parseStateDict(reader, file);
        const keys = (plain.read<unknown[]>(reader) ?? []).map(String);
        parsed = { tensors, storages, keys, dataStart: LEGACY_MAGIC.length + reader.position };
        break;
      } catch (err) {
        // A pickle cut off by the end of the head: read more (the pickles are small, but be safe).
        if (headLen < size && !(err instanceof InputError && !/could not be parsed/.test(err.message))) {
          headLen = Math.min(size, headLen * 4);
          continue;
        }
        if (err instanceof InputError) throw err;
        throw new InputError(`${file}: not a readable legacy PyTorch checkpoint (${(err as Error).message.split('\n')[0]})`);
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
    if (!s) throw new InputError(`${file}: storage '${k}' is listed but never used; the checkpoint is damaged`);
    need += 8 + s.numel * s.elementSize;
  }
  if (size < need) throw new InputError(`${file} is truncated (${size} bytes, the checkpoint needs ${need}); download it again`);
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
            if (numel !== s.numel) throw new InputError(`${file}: storage '${s.key}' has ${numel} elements, the pickle says ${s.numel}; the checkpoint is damaged`);
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
      if (i < keys.length) throw new InputError(`${file} is truncated (storage '${keys[i]}' incomplete); download it again`);
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
    throw new InputError(`checkpoint not found: ${file}`);
  }
  if (!st.isFile()) throw new InputError(`checkpoint is not a file: ${file}`);
  if (st.size < 16) throw new InputError(`${file} is not a PyTorch checkpoint (${st.size} bytes)`);
  const fh = await fsp.open(file, 'r');
  const magic = Buffer.alloc(4);
  await fh.read(magic, 0, 4, 0);
  await fh.close();
  if (magic.equals(ZIP_MAGIC)) return openZipCheckpoint(file);
  if (magic[0] === 0x80 && magic[1] >= 2) return openLegacyCheckpoint(file, st.size, opts.chunkSize ?? 1 << 20);
  throw new InputError(`${path.basename(file)} is not a PyTorch checkpoint (neither a zip nor a legacy torch.save file): ${file}`);
}
