/**
 * The converter's contract apart from numerics (parity.test.ts): weight mapping layout, bad input
 * (truncated, non-zip, non-torch, wrong architecture) is a one-line error and writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { InputError, UsageError } from '../../src/core/errors.js';
import { resolveModel } from '../../src/models/index.js';
import { MODEL_NAMES, MODELS, sha256PrefixOf } from '../../src/models/registry.js';
import { architectureLayout, convertCheckpoint } from '../../src/models/convert.js';
import { openTorchCheckpoint } from '../../src/models/torch_checkpoint.js';
import { listFiles, requireOracle, runCli, tempDir } from '../helpers.js';
import { torchFixture } from './torch_fixtures.js';

test('weight mappings: every tfjs weight has one state_dict key; layouts as torchvision', async () => {
  const r = await architectureLayout('resnet18');
  // torchvision resnet18 state_dict: 122 keys, 20 of them num_batches_tracked (not converted).
  assert.equal(r.mappings.length, 102);
  assert.equal(new Set(r.mappings.map((m) => m.torchKey)).size, 102);
  const conv1 = r.mappings.find((m) => m.torchKey === 'conv1.weight')!;
  assert.deepEqual(conv1.torchShape, [64, 3, 7, 7]);
  assert.deepEqual(conv1.tfjsShape, [7, 7, 3, 64]);
  const fc = r.mappings.find((m) => m.torchKey === 'fc.weight')!;
  assert.deepEqual([fc.torchShape, fc.tfjsShape, fc.perm], [[1000, 512], [512, 1000], [1, 0]]);
  assert.ok(r.mappings.some((m) => m.torchKey === 'layer4.1.bn2.running_var' && m.tfjsName === 'layer4.1.bn2/moving_variance'));
  assert.ok(r.mappings.some((m) => m.torchKey === 'layer2.0.downsample.0.weight'));

  const v = await architectureLayout('vgg16');
  assert.equal(v.mappings.length, 32);
  const c0 = v.mappings.find((m) => m.torchKey === 'classifier.0.weight')!;
  // PyTorch flattens (c,h,w); the NHWC model flattens (h,w,c): rows are re-ordered.
  assert.deepEqual([c0.torchShape, c0.viewShape, c0.perm, c0.tfjsShape], [[4096, 25088], [4096, 512, 7, 7], [2, 3, 1, 0], [25088, 4096]]);
  assert.deepEqual(v.mappings.filter((m) => m.torchKey.endsWith('.weight') && m.torchKey.startsWith('features')).map((m) => m.torchKey.split('.')[1]),
    ['0', '2', '5', '7', '10', '12', '14', '17', '19', '21', '24', '26', '28']);
});

test('not a checkpoint: a PNG, an empty file, a missing file, an unknown arch -> one-line error, nothing written', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  const png = path.join(dir, 'x.pth');
  copyFileSync(new URL('../../../data/images/chelsea.png', import.meta.url), png);
  await assert.rejects(convertCheckpoint(png, 'resnet18', out), (e: Error) => e instanceof InputError && /not a PyTorch checkpoint/.test(e.message));
  writeFileSync(path.join(dir, 'empty.pth'), '');
  await assert.rejects(convertCheckpoint(path.join(dir, 'empty.pth'), 'resnet18', out), InputError);
  await assert.rejects(convertCheckpoint(path.join(dir, 'missing.pth'), 'resnet18', out), /not found/);
  // A zip that is not a torch checkpoint.
  const zip = Buffer.from('504b0506000000000000000000000000000000000000', 'hex'); // empty zip: end-of-central-directory only
  writeFileSync(path.join(dir, 'empty.zip'), Buffer.concat([Buffer.from('504b0304', 'hex'), Buffer.alloc(12), zip]));
  await assert.rejects(convertCheckpoint(path.join(dir, 'empty.zip'), 'resnet18', out), InputError);
  await assert.rejects(convertCheckpoint(png, 'alexnet', out), (e: Error) => e instanceof UsageError && /resnet18, vgg16/.test(e.message));
  assert.deepEqual(listFiles(out), []);
});

test('real checkpoint: truncated (zip and legacy), wrong arch -> one-line error naming the problem, nothing written', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  const fx = await torchFixture(py, 'resnet18', { noise: 1, legacy: true, variants: true });
  const dir = tempDir(t);
  const out = path.join(dir, 'out');

  // Not a plain float32 state_dict: whole pickled model, float16.
  await assert.rejects(convertCheckpoint(path.join(fx.dir, 'resnet18-full.pth'), 'resnet18', out),
    /holds a pickled torchvision\.models\.resnet\.ResNet object, not a state_dict/);
  await assert.rejects(convertCheckpoint(path.join(fx.dir, 'resnet18-half.pth'), 'resnet18', out), /conv1\.weight is float16/);

  const ckpt = await openTorchCheckpoint(fx.checkpoint);
  assert.equal(ckpt.format, 'zip');
  assert.deepEqual(ckpt.tensors.get('fc.weight')!.shape, [1000, 512]);
  ckpt.close();

  for (const [name, src] of [['zip', fx.checkpoint], ['legacy', fx.legacyCheckpoint!]] as const) {
    for (const keep of [0.5, 0.999]) {
      const cut = path.join(dir, `cut-${name}-${keep}.pth`);
      copyFileSync(src, cut);
      truncateSync(cut, Math.floor(statSync(src).size * keep));
      await assert.rejects(convertCheckpoint(cut, 'resnet18', out), (e: Error) => e instanceof InputError && /truncated|damaged/.test(e.message) && !e.message.includes('\n'), `${name} cut at ${keep}`);
    }
  }
  await assert.rejects(convertCheckpoint(fx.checkpoint, 'vgg16', out), (e: Error) =>
    e instanceof InputError && /not a vgg16 checkpoint/.test(e.message) && /missing keys: features\.0\.weight/.test(e.message)
    && /use --arch resnet18/.test(e.message));
  assert.deepEqual(listFiles(out), []);

  // CLI: same errors, exit codes 1 (bad file) and 2 (unknown --arch), --out untouched.
  const bad = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'vgg16', '--out', out]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not a vgg16 checkpoint/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const usage = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'alexnet', '--out', out]);
  assert.equal(usage.code, 2);
  assert.deepEqual(listFiles(out), []);

  // A file carrying torchvision's name must carry its checksum too.
  const named = path.join(dir, 'resnet18-f37072fd.pth');
  copyFileSync(fx.checkpoint, named);
  const corrupt = await runCli(['models', 'convert', named, '--arch', 'resnet18', '--out', out]);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.stderr, /starts with f37072fd \(f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec, 46830571 bytes\): the file is corrupt or incomplete/);
  assert.deepEqual(listFiles(out), []);

  // A state_dict wrapped in {'epoch', 'state_dict'} (a training checkpoint) converts.
  const wrapped = await convertCheckpoint(path.join(fx.dir, 'resnet18-wrapped.pth'), 'resnet18', path.join(dir, 'wrapped'));
  assert.equal(wrapped.parameters, 11_699_112);

  // And a good conversion writes exactly model.json + weights.bin with the metadata.
  const ok = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'resnet18', '--out', out, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(listFiles(out), ['model.json', 'report.html', 'run.json', 'weights.bin']);
  const json = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'));
  assert.equal(json.userDefinedMetadata.dnnkit.arch, 'resnet18');
  assert.equal(statSync(path.join(out, 'weights.bin')).size, 11_689_512 * 4 + 9_600 * 4);
  // A model converted to --out keeps its metadata: used by path, it is still an ImageNet model.
  await initBackend();
  const m = await resolveModel(out, { quiet: true });
  assert.deepEqual([m.name, m.outputsLogits, m.classNames?.length, m.inputShape], ['out', true, 1000, [224, 224, 3]]);
  const { input, display } = await m.preprocess(new URL('../../../data/images/coffee.png', import.meta.url).pathname);
  assert.deepEqual([input.shape, display.width, display.height], [[1, 224, 224, 3], 224, 224]);
  input.dispose();
  m.model.dispose();
});

test('registry guard: every model builds with torchvision layer names, its Grad-CAM layer and input shape', async () => {
  await initBackend();
  for (const name of MODEL_NAMES) {
    const entry = MODELS[name];
    const model = entry.build({ zeroInit: true });
    assert.deepEqual(model.inputs[0].shape, [null, ...entry.inputShape], name);
    assert.deepEqual(model.outputs[0].shape, [null, 1000], name);
    const last = model.getLayer(entry.lastConvLayer);
    assert.equal((last.output as tf.SymbolicTensor).shape.length, 4, `${name}: ${entry.lastConvLayer} is a feature map`);
    const names = new Set(model.layers.map((l) => l.name));
    assert.equal(names.size, model.layers.length, 'layer names are unique');
    assert.match(entry.file, /^[a-z0-9]+-[0-9a-f]{8}\.pth$/);
    assert.equal(sha256PrefixOf(entry.file), entry.file.split('-')[1].slice(0, 8));
    assert.ok(entry.url.endsWith(`/${entry.file}`));
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, 0, 'building and disposing leaves no tensors');
});
