/**
 * Issue #20, images and model files: hostile or odd inputs to the image preprocessing, the .pth
 * reader, model.json loading, `models convert` and downloads. Every fixture is made here (tiny PNGs
 * with sharp, hand-written pickles and zips, a local HTTP server on 127.0.0.1); no PyTorch needed.
 *
 * Each test failed when run against the code before the fix (da97974, with only the constants this
 * file imports added), for the reason it names: the old code resized, inflated, read or hung.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { InputError } from '../../src/core/errors.js';
import { MAX_RESIZED_PIXELS } from '../../src/core/image.js';
import { loadModel } from '../../src/core/model_io.js';
import { architectureLayout } from '../../src/models/convert.js';
import { DroppedConnectionError, downloadFile } from '../../src/models/download.js';
import { preprocessImagenet, preprocessPlain } from '../../src/models/preprocess.js';
import { crc32Table, MAX_PICKLE_BYTES, openTorchCheckpoint } from '../../src/models/torch_checkpoint.js';
import { BIN, listFiles, runCli } from '../helpers.js';
import { assertCleanError, makeTinyModel, noise } from './fixtures.js';

let work: string;
let tiny: string;
let n = 0;
/** A fresh path under the work folder. */
const fresh = (name: string) => path.join(work, `${n++}-${name}`);
/** No network: a local port that refuses connections. */
const OFFLINE = { DNNKIT_MODEL_URL_BASE: 'http://127.0.0.1:9' };

before(async () => {
  await initBackend();
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-robust-models-'));
  tiny = await makeTinyModel(path.join(work, 'tiny'));
});
after(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Fixture builders: pickles (protocol 2) and zips, written byte by byte.

/** Opcodes of pickle protocol 2 used below (Python's pickletools names). */
const OP = { PROTO: 0x80, EMPTY_DICT: 0x7d, MARK: 0x28, TUPLE: 0x74, EMPTY_TUPLE: 0x29, BINPERSID: 0x51, REDUCE: 0x52, NEWFALSE: 0x89, SETITEMS: 0x75, STOP: 0x2e, BININT: 0x4a, BINUNICODE: 0x58, GLOBAL: 0x63 };

class Pickle {
  private readonly parts: Buffer[] = [Buffer.from([OP.PROTO, 2])];
  op(...codes: number[]): this { this.parts.push(Buffer.from(codes)); return this; }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    this.parts.push(Buffer.from([OP.BINUNICODE]), len, b);
    return this;
  }
  int(i: number): this {
    const b = Buffer.alloc(5);
    b[0] = OP.BININT;
    b.writeInt32LE(i, 1);
    this.parts.push(b);
    return this;
  }
  global(module: string, name: string): this { this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1')); return this; }
  tuple(fill: () => void): this { this.op(OP.MARK); fill(); return this.op(OP.TUPLE); }
  /** torch._utils._rebuild_tensor_v2(storage(key, numel), 0, shape, contiguous stride, False, OrderedDict()). */
  tensor(key: string, shape: number[]): this {
    const numel = shape.reduce((a, b) => a * b, 1);
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    this.global('torch._utils', '_rebuild_tensor_v2').tuple(() => {
      this.tuple(() => this.str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(numel)).op(OP.BINPERSID);
      this.int(0).tuple(() => shape.forEach((d) => this.int(d))).tuple(() => stride.forEach((d) => this.int(d)));
      this.op(OP.NEWFALSE).global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE, OP.REDUCE);
    });
    return this.op(OP.REDUCE);
  }
  bytes(): Buffer { return Buffer.concat([...this.parts, Buffer.from([OP.STOP])]); }
}

/** A state_dict pickle {name: tensor} with one storage per tensor (keys '0', '1', ...), plus `extra` items. */
function stateDictPickle(tensors: Array<[string, number[]]>, extra?: (p: Pickle) => void): Buffer {
  const p = new Pickle().op(OP.EMPTY_DICT, OP.MARK);
  tensors.forEach(([name, shape], i) => p.str(name).tensor(String(i), shape));
  extra?.(p);
  return p.op(OP.SETITEMS).bytes();
}

interface ZipEntry {
  name: string;
  data: Buffer;
  /** Deflate the data (default: stored, as torch.save writes). */
  deflate?: boolean;
  /** Uncompressed size written in the headers (default: the true size). */
  declaredSize?: number;
}

/** A zip archive (no zip64) of `entries`, CRC-32 from Node's zlib. */
function makeZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const crc = zlib.crc32(e.data);
    const usize = e.declaredSize ?? e.data.length;
    const method = e.deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(usize, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A torch.save-style zip checkpoint: archive/data.pkl, archive/byteorder, archive/data/<i>, archive/version. */
function checkpointZip(tensors: Array<[string, number[], Float32Array]>, opts: { pkl?: Buffer; pklEntry?: Partial<ZipEntry> } = {}): Buffer {
  const pkl = opts.pkl ?? stateDictPickle(tensors.map(([k, s]) => [k, s]));
  return makeZip([
    { name: 'archive/data.pkl', data: pkl, ...opts.pklEntry },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    ...tensors.map(([, , v], i) => ({ name: `archive/data/${i}`, data: Buffer.from(v.buffer, v.byteOffset, v.byteLength) })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/** Reads every storage of a checkpoint whole: key -> bytes. */
async function readAllStorages(file: string): Promise<Map<string, Buffer>> {
  const ckpt = await openTorchCheckpoint(file);
  const got = new Map<string, Buffer[]>();
  try {
    await ckpt.readStorages((key) => (chunk) => got.set(key, [...(got.get(key) ?? []), Buffer.from(chunk)]));
  } finally {
    ckpt.close();
  }
  return new Map([...got].map(([k, v]) => [k, Buffer.concat(v)]));
}

const floats = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));

/** A 1 x h (or w x 1) PNG of noise; a few KB even for 100,000 pixels. */
async function stripPng(file: string, width: number, height: number): Promise<string> {
  await sharp(noise(width, height, 3), { raw: { width, height, channels: 3 } }).png().toFile(file);
  return file;
}

/** A server on 127.0.0.1 whose handler gets every request; counts requests. */
async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => { hits++; handler(req, res); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Rejects after `ms`: turns a hang (the old behaviour) into a failure. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// High 3: extreme aspect ratios.

test('aspect ratio: ImageNet preprocessing refuses an image whose resize would exceed the bound, before resizing', async () => {
  // 1 x 300: Resize(256) would give 256 x 76,800 = 19.7 M pixels (> MAX_RESIZED_PIXELS, yet small
  // enough that the old code resized it without harm).
  assert.ok(256 * 76_800 > MAX_RESIZED_PIXELS);
  const strip = await stripPng(fresh('strip.png'), 1, 300);
  await assert.rejects(preprocessImagenet(strip), (e: Error) => e instanceof InputError
    && e.message.includes(`${strip} is 1x300 pixels (aspect ratio 300:1)`) && /256x76800/.test(e.message) && /crop it/.test(e.message) && !e.message.includes('\n'));
  // A wide panorama within the bound still works: 1000 x 100 -> 2560 x 256 -> centre crop 224.
  const pano = await stripPng(fresh('pano.png'), 1000, 100);
  const { input } = await preprocessImagenet(pano);
  assert.deepEqual(input.shape, [1, 224, 224, 3]);
  input.dispose();
  // Models that resize to their input size (the MNIST CNN, any custom model) take any aspect ratio.
  const tall = await stripPng(fresh('tall.png'), 1, 100_000);
  const digit = await preprocessPlain(tall, [28, 28, 1]);
  assert.deepEqual(digit.input.shape, [1, 28, 28, 1]);
  digit.input.dispose();
});

test('aspect ratio: a 2 x 200,000 PNG through classify/gradcam/shap/explain with resnet18 is refused in one line, before any download', async () => {
  // (2 pixels wide, so that the 2x2 patch grid of shap/explain fits it.)
  const tall = await stripPng(fresh('tall.png'), 2, 200_000);
  const home = fresh('home');
  for (const c of ['classify', 'gradcam', 'shap', 'explain']) {
    const out = fresh('out');
    const extra = c === 'shap' || c === 'explain' ? ['--patches', '4', '--samples', '2'] : [];
    const res = await runCli([c, '--model', 'resnet18', ...extra, '--out', out, tall], { env: { DNNKIT_HOME: home, ...OFFLINE }, timeoutMs: 60_000 });
    assertCleanError(res, 1, /tall\.png is 2x200000 pixels \(aspect ratio 100000:1\); resizing it to 256x25600000 .* crop it/);
    assert.doesNotMatch(res.stderr, /download|pulling/, `${c}: the image is refused before the model is fetched`);
    assert.deepEqual(listFiles(out), []);
  }
  // The custom-model path (resize to the model input) takes the same image.
  const res = await runCli(['classify', '--model', tiny, '--out', fresh('out'), '--json', tall], { env: { DNNKIT_HOME: home, ...OFFLINE } });
  assert.equal(res.code, 0, res.stderr);
});

// ---------------------------------------------------------------------------------------------
// Medium: .pth zip bombs and CRC-32.

test('pth: a data.pkl zip bomb is refused from its declared size, and a lying header while inflating', async () => {
  const w = floats(6);
  const pkl = stateDictPickle([['w', [2, 3]]]);
  // Honest bomb: a valid pickle followed by MAX_PICKLE_BYTES of zeros (deflates to ~65 KB).
  const bomb = fresh('bomb.pth');
  writeFileSync(bomb, checkpointZip([['w', [2, 3], w]], { pkl: Buffer.concat([pkl, Buffer.alloc(MAX_PICKLE_BYTES + 1)]), pklEntry: { deflate: true } }));
  const rss0 = process.memoryUsage().rss;
  await assert.rejects(openTorchCheckpoint(bomb), (e: Error) => e instanceof InputError
    && /archive\/data\.pkl declares \d+ bytes, more than the 67108864 dnnkit expects \(a zip bomb/.test(e.message));
  assert.ok(process.memoryUsage().rss - rss0 < 32e6, 'nothing was inflated');
  // Lying header: data.pkl declares 100 bytes but inflates to 1 MB.
  const liar = fresh('liar.pth');
  writeFileSync(liar, checkpointZip([['w', [2, 3], w]], { pkl: Buffer.concat([pkl, Buffer.alloc(1 << 20)]), pklEntry: { deflate: true, declaredSize: 100 } }));
  await assert.rejects(openTorchCheckpoint(liar), (e: Error) => e instanceof InputError && /data\.pkl/.test(e.message) && /damaged/.test(e.message) && !e.message.includes('\n'));
});

test('pth: CRC-32 is checked for the pickle and every storage read (flipped bytes are refused)', async () => {
  const a = floats(300, 1);
  const b = floats(40, 2);
  const good = checkpointZip([['a', [300], a], ['b', [4, 10], b]]);
  const ok = fresh('ok.pth');
  writeFileSync(ok, good);
  const storages = await readAllStorages(ok);
  assert.deepEqual(new Float32Array(new Uint8Array(storages.get('0')!).buffer), a, 'an intact checkpoint reads back exactly');

  // 100 bytes flipped inside storage '0' (the data, not the headers): metadata opens, reading fails.
  const flipped = Buffer.from(good);
  const at = good.indexOf(Buffer.from(a.buffer));
  for (let i = 0; i < 100; i++) flipped[at + 10 + i] ^= 0x5a;
  const bad = fresh('flipped.pth');
  writeFileSync(bad, flipped);
  await assert.rejects(readAllStorages(bad), (e: Error) => e instanceof InputError && /storage '0' fails its CRC-32 check/.test(e.message) && /download it again/.test(e.message));

  // One byte of the pickle changed (a shape 4 -> 5 would still parse): refused at open.
  const pklBad = Buffer.from(good);
  const pklAt = good.indexOf(Buffer.from('cpu'));
  pklBad[pklAt] = 'C'.charCodeAt(0);
  const badPkl = fresh('flipped-pkl.pth');
  writeFileSync(badPkl, pklBad);
  await assert.rejects(openTorchCheckpoint(badPkl), /data\.pkl fails its CRC-32 check/);

  // The table-driven fallback (Node < 20.15) agrees with zlib's.
  const sample = Buffer.from('The quick brown fox jumps over the lazy dog');
  assert.equal(crc32Table(sample), 0x414fa339);
  assert.equal(crc32Table(sample.subarray(10), crc32Table(sample.subarray(0, 10))), zlib.crc32(sample));
});

// ---------------------------------------------------------------------------------------------
// Medium: pickles that name globals outside the tensor-rebuilding allow-list.

test('pth: a pickle naming os.system or builtins.eval is refused with the global named (as weights_only=True)', async () => {
  const w = floats(6);
  for (const [module, name] of [['os', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen']]) {
    const pkl = stateDictPickle([['w', [2, 3]]], (p) => p.str('payload').global(module, name).tuple(() => p.str('echo pwned')).op(OP.REDUCE));
    const file = fresh(`${name}.pth`);
    writeFileSync(file, checkpointZip([['w', [2, 3], w]], { pkl }));
    await assert.rejects(openTorchCheckpoint(file), (e: Error) => e instanceof InputError
      && e.message.includes(`the pickle names the global '${module}.${name}'`) && /torch\.load\(weights_only=True\)/.test(e.message) && !e.message.includes('\n'));
  }
  // The same state_dict without the payload opens.
  const clean = fresh('clean.pth');
  writeFileSync(clean, checkpointZip([['w', [2, 3], w]]));
  const ckpt = await openTorchCheckpoint(clean);
  assert.deepEqual([...ckpt.tensors.keys()], ['w']);
  ckpt.close();
  // Through the CLI: one line, nothing written.
  const out = fresh('out');
  const file = fresh('evil.pth');
  writeFileSync(file, checkpointZip([['w', [2, 3], w]], { pkl: stateDictPickle([['w', [2, 3]]], (p) => p.str('x').global('os', 'system').tuple(() => p.str('id')).op(OP.REDUCE)) }));
  const res = await runCli(['models', 'convert', file, '--arch', 'resnet18', '--out', out]);
  assertCleanError(res, 1, /names the global 'os\.system'/);
  assert.deepEqual(listFiles(out), []);
});

// ---------------------------------------------------------------------------------------------
// Medium: model.json weight paths.

/** A copy of the tiny model whose manifest names `paths`. */
function tinyWithPaths(paths: string[]): string {
  const dir = fresh('model');
  mkdirSync(dir);
  const json = JSON.parse(readFileSync(path.join(tiny, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = paths;
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(path.join(dir, 'weights.bin'), readFileSync(path.join(tiny, 'weights.bin')));
  return dir;
}

test('model.json: weight paths that leave the folder, absolute paths and non-regular files are refused before reading', async () => {
  // A "secret" of exactly the model's weight size beside the folder: the old code read it as weights.
  const secret = path.join(work, 'secret.bin');
  writeFileSync(secret, readFileSync(path.join(tiny, 'weights.bin')));
  const cases: Array<[string[], RegExp]> = [
    [['../secret.bin'], /names the weights file \.\.\/secret\.bin, which is outside the model's folder/],
    [['../../etc/passwd'], /names the weights file \.\.\/\.\.\/etc\/passwd, which is outside the model's folder/],
    [['./sub/../../secret.bin'], /outside the model's folder/],
    [[secret], /names the weights file ".*secret\.bin"; dnnkit reads weights only from files beside model\.json/],
    [['/dev/zero'], /names the weights file "\/dev\/zero"; dnnkit reads weights only/],
    [['file:///etc/passwd'], /names the weights file "file:\/\/\/etc\/passwd"/],
  ];
  for (const [paths, pattern] of cases) {
    await assert.rejects(within(10_000, loadModel(tinyWithPaths(paths)), paths[0]), (e: Error) => e instanceof InputError && pattern.test(e.message), paths[0]);
  }
  // A folder (or any non-regular file) named as the weights file.
  const dir = tinyWithPaths(['./shard']);
  mkdirSync(path.join(dir, 'shard'));
  await assert.rejects(loadModel(dir), /weights file .*shard named in .*model\.json is not a regular file/);
  // The intact model still loads; so does a model split over two shards.
  const split = tinyWithPaths(['./a.bin', './b.bin']);
  const bytes = readFileSync(path.join(tiny, 'weights.bin'));
  writeFileSync(path.join(split, 'a.bin'), bytes.subarray(0, 100));
  writeFileSync(path.join(split, 'b.bin'), bytes.subarray(100));
  (await loadModel(split)).dispose();
});

// ---------------------------------------------------------------------------------------------
// Low: uint8-quantised tfjs models.

test('model.json: a uint8-quantised tfjs model loads (tfjs dequantises) and predicts as the float model', async () => {
  const json = JSON.parse(readFileSync(path.join(tiny, 'model.json'), 'utf8'));
  const raw = readFileSync(path.join(tiny, 'weights.bin'));
  const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const q: Buffer[] = [];
  let at = 0;
  for (const spec of json.weightsManifest[0].weights as Array<{ shape: number[]; quantization?: object }>) {
    const n = spec.shape.reduce((a: number, b: number) => a * b, 1);
    const v = values.subarray(at, at + n);
    at += n;
    // tfjs-converter's affine uint8 quantisation: v ~ min + scale * q.
    const min = Math.min(...v);
    const scale = (Math.max(...v) - min) / 255 || 1;
    q.push(Buffer.from(Array.from(v, (x) => Math.round((x - min) / scale))));
    spec.quantization = { dtype: 'uint8', min, scale };
  }
  const dir = fresh('quantised');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(q));
  const quantised = await loadModel(dir);
  const float = await loadModel(tiny);
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 3);
  const diff = tf.tidy(() => (quantised.predict(x) as tf.Tensor).sub(float.predict(x) as tf.Tensor).abs().max().dataSync()[0]);
  assert.ok(diff < 0.05, `quantised and float predictions differ by ${diff}`);
  x.dispose();
  quantised.dispose();
  float.dispose();
  // A quantised model whose weights file is cut is still reported as truncated.
  writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(q).subarray(0, 50));
  await assert.rejects(loadModel(dir), /hold 50 bytes but .* describes \d+; the files do not belong together or are truncated/);
});

// ---------------------------------------------------------------------------------------------
// Medium/Low: models convert --out takes the lock, and leaves no temporary files.

/** A pid that is not running (a child that has exited). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

/** A zero-weight checkpoint with ResNet-18's keys and shapes (47 MB, written in well under a second). */
async function zeroResnet18(file: string): Promise<string> {
  const { mappings } = await architectureLayout('resnet18');
  writeFileSync(file, checkpointZip(mappings.map((m) => [m.torchKey, m.torchShape, new Float32Array(m.torchShape.reduce((a, b) => a * b, 1))])));
  return file;
}

test('models convert --out: refuses a folder another dnnkit is writing (the --out lock), removes stale temporary files', async () => {
  const out = fresh('out');
  mkdirSync(out);
  writeFileSync(path.join(out, 'model.json'), '{"trained": true}');
  // A live process holds the lock (this test process plays train-mnist).
  writeFileSync(path.join(out, '.dnnkit.lock'), String(process.pid));
  const notes = fresh('notes.pth');
  writeFileSync(notes, 'not a checkpoint, and never read: the lock comes first\n'.repeat(2));
  const ckpt = fresh('clean.pth');
  writeFileSync(ckpt, checkpointZip([['w', [2, 3], floats(6)]]));
  const busy = await runCli(['models', 'convert', ckpt, '--arch', 'resnet18', '--out', out]);
  assertCleanError(busy, 2, new RegExp(`another dnnkit \\(pid ${process.pid}\\) is writing to --out`));
  assert.equal(readFileSync(path.join(out, 'model.json'), 'utf8'), '{"trained": true}', 'the trained model is untouched');

  // A lock and a temporary file left by a killed dnnkit: taken over and removed.
  const pid = deadPid();
  writeFileSync(path.join(out, '.dnnkit.lock'), String(pid));
  writeFileSync(path.join(out, `.dnnkit-tmp-${pid}-1-weights.bin`), Buffer.alloc(1000));
  const res = await runCli(['models', 'convert', notes, '--arch', 'resnet18', '--out', out]);
  assertCleanError(res, 1, /not a PyTorch checkpoint/);
  assert.deepEqual(readdirSync(out).sort(), ['model.json'], 'stale lock and temporary file removed, nothing else written');
});

test('models convert --out: SIGTERM while the weights are written removes the temporary file', async () => {
  await initBackend();
  const pth = await zeroResnet18(fresh('resnet18-zero.pth'));
  // Poll the folder and send SIGTERM as soon as a temporary file appears (a few tries: the write is short).
  for (let attempt = 0; attempt < 4; attempt++) {
    const out = fresh('out');
    mkdirSync(out);
    const child = spawn(process.execPath, [BIN, 'models', 'convert', pth, '--arch', 'resnet18', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && readdirSync(out).some((f) => f.startsWith('.dnnkit-tmp-'))) {
        sent = true;
        child.kill('SIGTERM');
      }
    }, 1);
    const code = await exited;
    clearInterval(poll);
    if (!sent) continue; // finished before a temporary file was seen: try again
    assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.dnnkit-tmp-')), [], `no temporary file left; stderr: ${stderr}`);
    assert.equal(code, 143, stderr);
    return;
  }
  assert.fail('the conversion never showed a temporary file to interrupt');
});

// ---------------------------------------------------------------------------------------------
// Low: downloads (redirects to other schemes, stalls).

test('download: a redirect to file:// or ftp:// is refused with the URL named', async (t) => {
  const s = await serve((req, res) => { res.writeHead(302, { location: req.url === '/ftp' ? 'ftp://example.org/x.pth' : 'file:///etc/passwd' }); res.end(); });
  t.after(() => s.close());
  const dir = fresh('dl');
  await assert.rejects(downloadFile(`${s.url}/file`, path.join(dir, 'x.pth'), { quiet: true, retries: 0 }), (e: Error) => e instanceof InputError
    && e.message.includes(`downloading ${s.url}/file failed: the server redirected to file:///etc/passwd, which is not an http(s) URL`));
  await assert.rejects(downloadFile(`${s.url}/ftp`, path.join(dir, 'x.pth'), { quiet: true, retries: 0 }), /redirected to ftp:\/\/example\.org\/x\.pth/);
  assert.deepEqual(listFiles(dir), []);
  // The CLI: `models pull` names the URL in one line.
  const res = await runCli(['models', 'pull', 'resnet18'], { env: { DNNKIT_HOME: fresh('home'), DNNKIT_MODEL_URL_BASE: `${s.url}/file` }, timeoutMs: 30_000 });
  assertCleanError(res, 1, /redirected to file:\/\/\/etc\/passwd/);
});

test('download: a server trickling 1 byte every 50 ms is a stall (rate floor per window), one line, nothing cached', async (t) => {
  const timers = new Set<NodeJS.Timeout>();
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': 100_000 });
    const timer = setInterval(() => res.write('x'), 50);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  });
  t.after(() => { timers.forEach(clearInterval); return s.close(); });
  const dir = fresh('dl');
  const started = Date.now();
  await assert.rejects(within(10_000, downloadFile(`${s.url}/x.pth`, path.join(dir, 'x.pth'), { quiet: true, retries: 0, idleTimeoutMs: 400 }), 'trickle download'),
    (e: Error) => e instanceof DroppedConnectionError && /stalled: \d+ bytes in the last 0\.4 s/.test(e.message));
  assert.ok(Date.now() - started < 3000);
  assert.deepEqual(listFiles(dir), []);
  // The CLI, with the window shortened by DNNKIT_DOWNLOAD_STALL_MS: retries, then one line.
  const home = fresh('home');
  const res = await runCli(['models', 'pull', 'resnet18'], { env: { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: s.url, DNNKIT_DOWNLOAD_STALL_MS: '300' }, timeoutMs: 20_000 });
  assert.notEqual(res.code, null, 'the pull ended by itself');
  assert.match(res.stderr, /dnnkit: error: downloading resnet18 from .* kept breaking off \(stalled: /);
  assert.deepEqual(listFiles(home), []);
});

// ---------------------------------------------------------------------------------------------
// Low: control characters in paths; and inputs before any networked step.

test('paths with a newline are named whole (JSON-quoted) in the one-line error', async () => {
  const dir = fresh('nl');
  mkdirSync(dir);
  const text = path.join(dir, 'holiday\nphoto.png');
  writeFileSync(text, 'not an image\n');
  const missing = path.join(dir, 'gone\nfile.png');
  for (const [file, what] of [[text, 'is not a readable image'], [missing, 'image not found: ']] as const) {
    const res = await runCli(['classify', '--model', tiny, '--out', fresh('out'), file], { env: OFFLINE });
    assertCleanError(res, 1, new RegExp(what.replace(/[()]/g, '\\$&')));
    const quoted = JSON.stringify(file);
    assert.ok(res.stderr.includes(quoted), `the error names ${quoted}:\n${res.stderr}`);
  }
  const pth = path.join(dir, 'weights\n.pth');
  writeFileSync(pth, checkpointZip([['w', [2, 3], floats(6)]], { pkl: stateDictPickle([['w', [2, 3]]], (p) => p.str('x').global('os', 'system').tuple(() => p.str('id')).op(OP.REDUCE)) }));
  await assert.rejects(openTorchCheckpoint(pth), (e: Error) => e.message.startsWith(JSON.stringify(pth)));
});

test('inputs before the network: a corrupt image, a bad --class or --layer with an uncached registry model fails without a single request', async (t) => {
  const s = await serve((_req, res) => { res.writeHead(404); res.end(); });
  t.after(() => s.close());
  const home = fresh('home');
  const env = { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: s.url };
  const png = await sharp(noise(64, 64, 3), { raw: { width: 64, height: 64, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  const corrupt = fresh('corrupt.png');
  writeFileSync(corrupt, png.subarray(0, png.length >> 1));
  for (const c of ['gradcam', 'classify', 'explain']) {
    const res = await runCli([c, '--model', 'resnet18', '--out', fresh('out'), corrupt], { env });
    assertCleanError(res, 1, /corrupt\.png could not be decoded .*truncated or corrupt/);
    assert.doesNotMatch(res.stderr, /download|pulling/);
  }
  const good = await stripPng(fresh('good.png'), 40, 30);
  const res = await runCli(['gradcam', '--model', 'resnet18', '--class', 'no such class', '--out', fresh('out'), good], { env });
  assertCleanError(res, 2, /unknown class 'no such class'; the closest names are/);
  // --layer is checked on an untrained build of the architecture (no weights needed).
  const layer = await runCli(['gradcam', '--model', 'vgg16', '--layer', 'features.99', '--out', fresh('out'), good], { env });
  assertCleanError(layer, 2, /--layer features\.99: no such layer; layers with 4-D outputs: .*features\.29/);
  assert.equal(s.hits(), 0, 'nothing was requested');
  assert.deepEqual(listFiles(home), []);
});
