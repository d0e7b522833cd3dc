/**
 * Bad and odd images through every image-taking command (classify, gradcam, shap, explain) on a
 * tiny tfjs model saved in a temp folder (no ImageNet weights needed): missing, an empty folder, empty, a
 * text file named .png, truncated PNG/JPEG must fail with one line naming the file (exit 1) and
 * write nothing; 1x1, grayscale, RGBA, 16-bit and CMYK images must work (exit 0); a 10,000 x 10,000
 * image must work with bounded memory (peak RSS measured). Model problems: a model.json whose
 * weights file is missing, and --model resnet18 with an empty cache and no network.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/core/backend.js';
import { runCli, listFiles, lastJson, BIN } from '../helpers.js';
import { assertCleanError, makeHugePng, makeImages, makeTinyModel, modelWithoutWeights, type ImageFixtures } from './fixtures.js';

let work: string;
let home: string;
let model: string;
let fx: ImageFixtures;
let n = 0;
/** No network for model downloads: a local port that refuses connections. */
const OFFLINE = { DNNKIT_MODEL_URL_BASE: 'http://127.0.0.1:9' };

before(async () => {
  await initBackend();
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-robust-img-'));
  home = path.join(work, 'home');
  model = await makeTinyModel(path.join(work, 'tiny'));
  fx = await makeImages(work);
});
after(() => rmSync(work, { recursive: true, force: true }));

const COMMANDS = ['classify', 'gradcam', 'shap', 'explain'] as const;
type Cmd = (typeof COMMANDS)[number];
/** Cheap settings for the Shapley commands. */
const extra = (c: Cmd) => (c === 'shap' || c === 'explain' ? ['--patches', '4', '--samples', '2'] : []);

function freshOut(): string {
  return path.join(work, `out${n++}`);
}

async function run(c: Cmd, files: string[], args: string[] = []) {
  const out = freshOut();
  const res = await runCli([c, '--model', model, ...extra(c), ...args, '--out', out, ...files], { env: { DNNKIT_HOME: home, ...OFFLINE } });
  return { res, out };
}

/** [name, file, expected message] for files that are not usable images. */
const BAD: [string, () => string, (f: string) => RegExp][] = [
  ['a missing path', () => fx.missing, (f) => new RegExp(`image not found: ${f}`)],
  // a folder is an input of images (issue 16); one without any is an error naming it
  ['an empty folder named .png', () => fx.dirPng, (f) => new RegExp(`folder ${f} holds no images \\(png, jpg`)],
  ['an empty file', () => fx.emptyPng, (f) => new RegExp(`image is empty: ${f}`)],
  ['a text file named .png', () => fx.textPng, (f) => new RegExp(`${f} is not a readable image .*give a PNG, JPEG`)],
  ['a truncated PNG', () => fx.truncPng, (f) => new RegExp(`${f} could not be decoded .*truncated or corrupt`)],
  ['a truncated JPEG', () => fx.truncJpg, (f) => new RegExp(`${f} could not be decoded .*truncated or corrupt`)],
];

// Each bad file through two of the four commands (rotating: every command sees three kinds); all
// four share loadImage, and a child process costs ~1 s of CPU.
BAD.forEach(([name, file, message], i) => {
  const cmds = [COMMANDS[i % 4], COMMANDS[(i + 1) % 4]];
  test(`exit 1, one line naming the file, nothing written: ${name} (${cmds.join(', ')})`, async () => {
    for (const c of cmds) {
      const { res, out } = await run(c, [fx.rgbPng, file()]);
      assertCleanError(res, 1, message(file()));
      assert.deepEqual(listFiles(out), [], `${c}: nothing in --out`);
    }
    assert.deepEqual(listFiles(home), [], 'nothing in the model cache');
  });
});

test('exit 0: grayscale, RGBA, 16-bit PNG and CMYK JPEG work in every image command', async () => {
  const files = [fx.grayPng, fx.rgbaPng, fx.png16, fx.cmykJpg];
  for (const c of COMMANDS) {
    const { res, out } = await run(c, files, ['--json']);
    assert.equal(res.code, 0, `${c}: ${res.stderr}`);
    const s = lastJson(res) as { images?: { file?: string; top5?: { probability: number }[] }[] };
    const produced = listFiles(out).filter((f) => f.endsWith('.png') || f.endsWith('.csv'));
    if (c === 'classify') {
      assert.ok(produced.includes('predictions.csv'), `classify writes predictions.csv; got ${produced.join(', ')}`);
      const preds = s; // the --json document (predictions.csv holds the same rows)
      assert.deepEqual(preds.images?.map((i) => path.basename(i.file ?? '')), files.map((f) => path.basename(f)));
      for (const i of preds.images ?? []) {
        const sum = (i.top5 ?? []).reduce((a, p) => a + p.probability, 0);
        assert.ok(Math.abs(sum - 1) < 1e-4, `${i.file}: the 3 class probabilities sum to 1, got ${sum}`);
      }
    } else {
      for (const stem of ['gray', 'rgba', 'deep16', 'cmyk']) assert.ok(produced.some((f) => f.startsWith(`${stem}.tiny.`)), `${c}: output for ${stem}; got ${produced.join(', ')}`);
      assert.equal(s.images?.length, 4);
    }
  }
});

test('a 16-bit PNG gives the same prediction as its 8-bit original (converted, not misread)', async () => {
  const a = await run('classify', [fx.rgbPng], ['--json']);
  const b = await run('classify', [fx.png16], ['--json']);
  assert.equal(a.res.code, 0, a.res.stderr);
  assert.equal(b.res.code, 0, b.res.stderr);
  const top = (r: typeof a) => (lastJson(r.res) as { images: { top5: { probability: number }[] }[] }).images[0].top5[0].probability;
  const pa = top(a);
  const pb = top(b);
  assert.ok(Number.isFinite(pa) && Math.abs(pa - pb) < 0.01, `top-1 probability ${pa} (8-bit) vs ${pb} (16-bit)`);
});

test('a 1x1 image: classify and gradcam work; shap and explain refuse it clearly (smaller than the patch grid)', async () => {
  for (const c of ['classify', 'gradcam'] as const) {
    const { res } = await run(c, [fx.onePx]);
    assert.equal(res.code, 0, `${c}: ${res.stderr}`);
  }
  for (const c of ['shap', 'explain'] as const) {
    const { res, out } = await run(c, [fx.onePx]);
    assertCleanError(res, 1, new RegExp(`${fx.onePx} is 1x1 pixels, smaller than the 2x2 patch grid`));
    assert.deepEqual(listFiles(out), []);
  }
});

test('a 10,000 x 10,000 PNG works (classify, explain) with peak RSS under 600 MB', async () => {
  const huge = await makeHugePng(path.join(work, 'huge.png'));
  for (const c of ['classify', 'explain'] as const) {
    const out = freshOut();
    // /usr/bin/time -f %M gives the child's peak resident set size in KB.
    const r = spawnSync('/usr/bin/time', ['-f', 'PEAK_RSS_KB=%M', process.execPath, BIN, c, '--model', model, ...extra(c), '--out', out, huge], {
      encoding: 'utf8', env: { ...process.env, DNNKIT_HOME: home, ...OFFLINE },
    });
    if (r.error) return; // no /usr/bin/time here: the memory figure is not measured
    assert.equal(r.status, 0, `${c}: ${r.stderr}`);
    const kb = Number(/PEAK_RSS_KB=(\d+)/.exec(r.stderr)?.[1]);
    // 10^8 pixels decoded at once would be 300 MB of RGB bytes (1.2 GB as float32); libvips shrinks on load.
    assert.ok(kb > 0 && kb < 600_000, `${c}: peak RSS ${kb} KB`);
    process.stderr.write(`# ${c} on 10,000 x 10,000: peak RSS ${(kb / 1024).toFixed(0)} MB\n`);
    assert.ok(listFiles(out).length > 0);
  }
});

test('--class -1, abc, 1e309 on a model without class names: exit 2 naming the value and the valid range', async () => {
  for (const v of ['-1', 'abc', '1e309']) {
    const { res, out } = await run('gradcam', [fx.rgbPng], ['--class', v]);
    assertCleanError(res, 2, new RegExp(`class '${v.replace('.', '\\.')}'.*give a class index 0-2`));
    assert.deepEqual(listFiles(out), []);
  }
  const { res } = await run('shap', [fx.rgbPng], ['--class', '3']);
  assertCleanError(res, 2, /class 3 is out of range: the model has 3 classes \(0-2\)/);
});

test('a model.json whose weights file is missing: exit 1 naming the file, in every image command and eval-mnist', async () => {
  const broken = modelWithoutWeights(model, path.join(work, 'noweights'));
  for (const c of [...COMMANDS, 'eval-mnist'] as const) {
    const out = freshOut();
    const res = await runCli([c, '--model', broken, '--out', out, ...(c === 'eval-mnist' ? [] : [fx.rgbPng])], { env: { DNNKIT_HOME: home, ...OFFLINE } });
    assertCleanError(res, 1, new RegExp(`weights file .*noweights/weights\\.bin named in .*noweights/model\\.json is missing`));
    assert.deepEqual(listFiles(out), [], c);
  }
  // --model given a file that is not a model, and a folder without model.json.
  let r = await runCli(['classify', '--model', fx.textPng, '--out', freshOut(), fx.rgbPng], { env: { DNNKIT_HOME: home } });
  assertCleanError(r, 1, /notes\.png/);
  r = await runCli(['gradcam', '--model', fx.dirPng, '--out', freshOut(), fx.rgbPng], { env: { DNNKIT_HOME: home } });
  assertCleanError(r, 1, /model\.json not found: .*folder\.png\/model\.json/);
});

test('--model resnet18 with an empty cache and no network: one line telling how to run models convert; nothing cached', async () => {
  for (const c of ['classify', 'shap'] as const) {
    const out = freshOut();
    const r2 = await runCli([c, '--model', 'resnet18', ...extra(c), '--out', out, fx.rgbPng], { env: { DNNKIT_HOME: home, ...OFFLINE } });
    assertCleanError(r2, 1, /cannot download resnet18: .*unreachable.*then run: dnnkit models convert resnet18-f37072fd\.pth --arch resnet18/);
    assert.deepEqual(listFiles(home), [], `${c}: nothing in the model cache (${listFiles(home).join(', ')})`);
    assert.deepEqual(listFiles(out), [], `${c}: nothing in --out`);
  }
});
