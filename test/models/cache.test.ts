/**
 * An honest model cache (issue 14, item 6): a registry name holds only torchvision's checkpoint
 * (full SHA-256 and size pinned); any other checkpoint is converted under a name of its own and
 * `models list` shows each entry's source file, SHA-256 and date; PyTorch's own copy
 * ($TORCH_HOME/hub/checkpoints) is used before any download. No network: an unreachable URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/core/backend.js';
import { UsageError } from '../../src/core/errors.js';
import { cacheNameFor, identifyCheckpoint, listCache, pullCheckpoint } from '../../src/models/cache.js';
import { MODEL_NAMES, MODELS, sha256PrefixOf, torchHubCheckpointsDir } from '../../src/models/registry.js';
import { lastJson, listFiles, requireOracle, runCli, tempDir } from '../helpers.js';
import { torchFixture } from './torch_fixtures.js';

const NOWHERE = 'http://127.0.0.1:9';

test('registry pins the full SHA-256 and size of torchvision\'s files', () => {
  assert.equal(MODELS.resnet18.sha256, 'f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec');
  assert.equal(MODELS.resnet18.bytes, 46_830_571);
  assert.equal(MODELS.vgg16.sha256, '397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0');
  assert.equal(MODELS.vgg16.bytes, 553_433_881);
  for (const name of MODEL_NAMES) {
    assert.match(MODELS[name].sha256, /^[0-9a-f]{64}$/);
    assert.ok(MODELS[name].sha256.startsWith(sha256PrefixOf(MODELS[name].file)!), `${name}: the file name's prefix is the pinned SHA-256's`);
  }
});

test('torch hub folder: $TORCH_HOME/hub/checkpoints, else $XDG_CACHE_HOME/torch, else ~/.cache/torch', () => {
  assert.equal(torchHubCheckpointsDir({ TORCH_HOME: '/t' }), '/t/hub/checkpoints');
  assert.equal(torchHubCheckpointsDir({ XDG_CACHE_HOME: '/x' }), '/x/torch/hub/checkpoints');
  assert.match(torchHubCheckpointsDir({}), /\/\.cache\/torch\/hub\/checkpoints$/);
});

test('cache names: a file name, not a path', () => {
  assert.equal(cacheNameFor('resnet18', undefined), 'resnet18');
  assert.equal(cacheNameFor('resnet18', 'r18-finetuned.v2'), 'r18-finetuned.v2');
  for (const bad of ['../x', 'a/b', '', '.hidden', 'x'.repeat(65)]) assert.throws(() => cacheNameFor('resnet18', bad), UsageError, bad);
});

test('another checkpoint cannot take a registry name; under --name it is listed with source, SHA-256 and date', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  const fx = await torchFixture(py, 'resnet18', { noise: 1, legacy: true });
  const home = tempDir(t);
  const env = { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: NOWHERE };
  const sha = createHash('sha256').update(readFileSync(fx.checkpoint)).digest('hex');
  assert.equal((await identifyCheckpoint(fx.checkpoint, 'resnet18')).verified, false);

  const refused = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'resnet18'], { env });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /is not torchvision's resnet18-f37072fd\.pth .*--model resnet18 means only that checkpoint: convert it under a name of its own with --name/);
  assert.equal(refused.stderr.trim().split('\n').length, 1);
  assert.deepEqual(listFiles(path.join(home, 'models')).filter((f) => !f.startsWith('.')), []);
  // Nor under the other registry name.
  const other = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'resnet18', '--name', 'vgg16'], { env });
  assert.equal(other.code, 2);
  assert.match(other.stderr, /registry name of another architecture/);

  const named = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'resnet18', '--name', 'r18-fixture', '--json'], { env });
  assert.equal(named.code, 0, named.stderr);
  assert.equal((lastJson(named) as { name: string }).name, 'r18-fixture');

  const list = await runCli(['models', 'list'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^resnet18 +not cached/m);
  assert.match(list.stdout, /^r18-fixture +cached/m);
  assert.ok(list.stdout.includes(`source ${path.basename(fx.checkpoint)}  SHA-256 ${sha}  converted ${new Date().toISOString().slice(0, 10)}`), list.stdout);
  assert.match(list.stdout, /resnet18 converted from .* \(not a registry checkpoint; use --model r18-fixture\)/);
  assert.equal(list.stderr, '');
  const entries = await listCache(home);
  const custom = entries.find((e) => e.name === 'r18-fixture')!;
  assert.deepEqual([custom.arch, custom.sourceSha256, custom.verified], ['resnet18', sha, null]);
});

test('pull uses PyTorch\'s verified copy in $TORCH_HOME before downloading; a copy failing its checksum is ignored', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  const fx = await torchFixture(py, 'resnet18', { noise: 1, legacy: true });
  const torchHome = tempDir(t);
  const hub = path.join(torchHome, 'hub', 'checkpoints');
  mkdirSync(hub, { recursive: true });
  const file = MODELS.resnet18.file;
  copyFileSync(fx.checkpoint, path.join(hub, file));
  const sha = createHash('sha256').update(readFileSync(fx.checkpoint)).digest('hex');
  const saved = process.env.TORCH_HOME;
  t.after(() => { if (saved === undefined) delete process.env.TORCH_HOME; else process.env.TORCH_HOME = saved; });
  process.env.TORCH_HOME = torchHome;
  await initBackend();
  // The fixture stands for torchvision's file: the source pins its digest (pullModel pins the registry's).
  const source = { file, url: `${NOWHERE}/${file}`, sha256: sha, bytes: statSync(fx.checkpoint).size, torchHub: true };
  const home = tempDir(t);
  const r = await pullCheckpoint('resnet18', source, { home, quiet: true });
  assert.deepEqual([r.fromTorchHub, r.downloaded, r.converted, r.checkpoint], [true, false, true, path.join(hub, file)]);
  assert.deepEqual(listFiles(home), ['models/resnet18/model.json', 'models/resnet18/weights.bin'], 'PyTorch\'s file is not copied');

  // A damaged PyTorch copy: not used; the download is tried (unreachable here) and nothing is cached.
  writeFileSync(path.join(hub, file), 'not the checkpoint');
  const home2 = tempDir(t);
  await assert.rejects(pullCheckpoint('resnet18', source, { home: home2, quiet: true }), /unreachable/);
  assert.deepEqual(listFiles(home2).filter((f) => !f.includes('.lock')), []);
});
