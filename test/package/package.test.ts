/**
 * A package that installs anywhere (issue 14, item 7): `npm pack` ships dist/, data/, the native
 * sources and their build script, and no tests or probes; the tarball installed into a temporary
 * folder is importable from an .mjs file (a tiny training and a Grad-CAM, printing nothing), and
 * installed globally into a temporary prefix it runs `dnnkit info` and a one-epoch, 500-sentence
 * `sst2` from an unrelated working directory. Dependencies come from the local npm cache when it
 * has them (--prefer-offline); the native addon build is skipped (DNNKIT_SKIP_NATIVE=1).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { ROOT } from '../helpers.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const ENV = { ...process.env, DNNKIT_SKIP_NATIVE: '1', FORCE_COLOR: '0', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? ENV, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

let work = '';
let tarball = '';

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-pack-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  // dist/ is built (the tests run from it): pack without running `prepare` again.
  const packed = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(work, path.basename(info.filename));
  writeFileSync(path.join(work, 'files.json'), JSON.stringify(info.files.map((f) => f.path)));
});

test('the tarball: dist/ (with .d.ts), data/, native sources and build script; no tests, probes or builds', () => {
  const files = JSON.parse(readFileSync(path.join(work, 'files.json'), 'utf8')) as string[];
  for (const f of ['bin/dnnkit.js', 'dist/src/cli.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'data/imagenet_classes.json', 'data/imagenet_synonyms.json',
    'data/sst2/train.tsv', 'data/images/chelsea.png', 'native/binding.gyp', 'scripts/build_native.mjs', 'docs/run-record.schema.json', 'package.json']) {
    assert.ok(files.includes(f), `ships ${f}`);
  }
  assert.ok(files.some((f) => f.startsWith('native/src/')), 'ships the native sources');
  const unwanted = files.filter((f) => /(^|\/)test\//.test(f) || /probe/.test(f) || f.startsWith('native/build') || f.startsWith('dist/test') || f.startsWith('dist/scripts') || f.startsWith('src/'));
  assert.deepEqual(unwanted, []);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.exports['.'].types, './dist/src/index.d.ts');
  assert.equal(pkg.types, './dist/src/index.d.ts');
});

test('installed into a folder: import from an .mjs, a tiny training and a Grad-CAM, nothing printed', async () => {
  const dir = path.join(work, 'local');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'uses-dnnkit', private: true, type: 'module' }));
  const inst = await run(NPM, ['install', '--prefer-offline', '--no-save', tarball], { cwd: dir });
  assert.equal(inst.code, 0, inst.stderr);
  // An all-grey 28x28 digit: Grad-CAM needs an image, not a meaningful one.
  await sharp(Buffer.alloc(28 * 28, 128), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(path.join(dir, 'digit.png'));
  writeFileSync(path.join(dir, 'use.mjs'), `
    import { trainMnist, gradCam, loadModel, UsageError } from 'dnnkit';
    const run = await trainMnist({ out: 'runs/mnist', epochs: 1, limit: 200 });
    const cam = await gradCam({ out: 'runs/cam', model: 'runs/mnist', images: ['digit.png'] });
    const loaded = await loadModel('runs/mnist');
    let usage = null;
    try { await trainMnist({ out: 'runs/x', epochs: 0 }); } catch (e) { usage = e instanceof UsageError ? e.message : String(e); }
    console.log(JSON.stringify({ accuracy: run.testAccuracy, files: run.files, cam, inputShape: loaded.inputShape, usage }));
  `);
  const res = await run(process.execPath, ['use.mjs'], { cwd: dir, timeoutMs: 180_000 });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stderr, '', 'the library prints nothing on stderr');
  const lines = res.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `the library prints nothing on stdout:\n${res.stdout}`);
  const out = JSON.parse(lines[0]);
  assert.ok(out.accuracy >= 0 && out.accuracy <= 1);
  assert.ok(out.files.includes('model.json'));
  assert.deepEqual(out.inputShape, [28, 28, 1]);
  assert.ok(readdirSync(path.join(dir, 'runs', 'cam')).some((f) => f.endsWith('.gradcam.png')), 'the Grad-CAM overlay is written');
  assert.ok(existsSync(path.join(dir, 'runs', 'mnist', 'run.json')));
  assert.equal(out.usage, 'trainMnist: epochs 0: --epochs must be between 1 and 1000, got 0', 'bad options throw a UsageError (no process.exit)');
});

test('installed globally into a prefix: dnnkit info and a one-epoch 500-sentence sst2 from another folder', async () => {
  const prefix = path.join(work, 'prefix');
  const inst = await run(NPM, ['install', '-g', '--prefer-offline', '--prefix', prefix, tarball], { cwd: work });
  assert.equal(inst.code, 0, inst.stderr);
  const bin = path.join(prefix, 'bin', 'dnnkit');
  const elsewhere = mkdtempSync(path.join(tmpdir(), 'dnnkit-elsewhere-'));
  process.on('exit', () => rmSync(elsewhere, { recursive: true, force: true }));
  const info = await run(bin, ['info'], { cwd: elsewhere });
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^dnnkit +0\.\d+\.\d+/m);
  assert.match(info.stdout, /^backend +(node|wasm|cpu)/m);
  // A small network (the default one trains at ~12 sentences/s here): the point is where the data comes from.
  const small = ['--units', '16', '--embedding-dim', '16', '--no-bidirectional', '--embed-plot', 'none'];
  const sst2 = await run(bin, ['sst2', '--epochs', '1', '--train-limit', '500', ...small, '--out', 'run', '--json'], { cwd: elsewhere, timeoutMs: 300_000 });
  assert.equal(sst2.code, 0, sst2.stderr);
  const summary = JSON.parse(sst2.stdout);
  assert.ok(summary.devAccuracy > 0 && summary.devAccuracy <= 1);
  assert.ok(existsSync(path.join(elsewhere, 'run', 'run.json')));
  assert.ok(!existsSync(path.join(elsewhere, 'data')), 'the data came from the package, not the working directory');
});
