/**
 * Folder inputs and sharded runs of the explain commands, end to end through the CLI on a tiny
 * saved model (issues 16 and 19): folders with --recursive, summary.csv, 3 shards as 3 concurrent
 * processes against one unsharded run, a shard killed with SIGKILL and rerun, `dnnkit merge` with
 * missing items, and --shard auto from SLURM and Kubernetes variables.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { parse } from 'csv-parse/sync';
import { Ajv } from 'ajv';
import { initBackend } from '../../src/core/backend.js';
import { BIN, lastJson, listFiles, ROOT, runCli } from '../helpers.js';
import { assertCleanError, makeTinyModel } from '../robustness/fixtures.js';

let work: string;
let model: string;
let photos: string; // 7 images: 4 at the top, 3 in sub/ (one with the same base name as a top one)
/** The 7 images in the run's order: top-level sorted, then sub/ (code-point order: 'sub/...' after 'b...'). */
let keys: string[];

before(async () => {
  await initBackend();
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-shard-'));
  model = await makeTinyModel(path.join(work, 'tiny'));
  photos = path.join(work, 'photos');
  mkdirSync(path.join(photos, 'sub'), { recursive: true });
  const names = ['a.png', 'b.jpg', 'cat.png', 'd.webp', 'sub/cat.png', 'sub/e.png', 'sub/f.png'];
  for (const [i, n] of names.entries()) {
    const px = Buffer.from(Array.from({ length: 20 * 18 * 3 }, (_, j) => (j * (31 + i * 7) + i * 13) % 256));
    const img = sharp(px, { raw: { width: 20, height: 18, channels: 3 } });
    await (n.endsWith('.jpg') ? img.jpeg() : n.endsWith('.webp') ? img.webp({ lossless: true }) : img.png()).toFile(path.join(photos, n));
  }
  writeFileSync(path.join(photos, 'notes.txt'), 'not an image, not taken\n');
  keys = names;
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Cheap Shapley settings, two classes per image (names get .c<class>). */
const SHAP = ['shap', '--patches', '4', '--samples', '4', '--class', 'top2', '--recursive'];

/** Files that are the same whatever the sharding (the per-item outputs), relative to `dir`. */
function itemFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => /\.(png|csv)$/.test(f) && !/^summary\b/.test(f));
}

function readCsv(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

/** A table without its timing column (the only cells that differ between runs). */
function withoutSeconds(rows: Record<string, string>[]): Record<string, string>[] {
  return rows.map(({ seconds: _s, ...rest }) => rest);
}

test('folder input: --recursive, sorted, unique names, summary.csv with one row per image x class x method', async () => {
  const out = path.join(work, 'folder');
  const r = await runCli(['gradcam', '--model', model, '--class', 'top2', '--out', out, '--json', '--recursive', photos]);
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r) as { images: { key: string; name: string; classIndex: number; overlayPng: string; probability: number; camRawMax: number }[]; totalImages: number };
  assert.equal(j.totalImages, 7);
  assert.deepEqual([...new Set(j.images.map((i) => i.key))], keys, 'every image, top level then sub/, sorted');
  assert.deepEqual([...new Set(j.images.map((i) => i.name.replace(/\.c\d+$/, '')))], ['a', 'b', 'cat', 'd', 'sub__cat', 'sub__e', 'sub__f']);
  const rows = readCsv(path.join(out, 'summary.csv'));
  assert.equal(rows.length, 7 * 2 * 1, '7 images x 2 classes x 1 method');
  assert.deepEqual(Object.keys(rows[0]), ['image', 'class', 'label', 'probability', 'method', 'layer', 'camHeight', 'camWidth', 'camRawMax', 'overlaySize', 'seconds', 'files']);
  for (const [i, row] of rows.entries()) {
    const e = j.images[i];
    assert.equal(row.image, e.key);
    assert.equal(Number(row.class), e.classIndex);
    assert.ok(Math.abs(Number(row.probability) - e.probability) < 1e-6, `${row.image}: probability ${row.probability} vs ${e.probability}`);
    assert.ok(Math.abs(Number(row.camRawMax) - e.camRawMax) <= 1e-6 * Math.max(1, Math.abs(e.camRawMax)));
    assert.equal(row.method, 'gradcam');
    const files = row.files.split(';');
    assert.deepEqual(files, [`${e.name}.tiny.gradcam.csv`, `${e.name}.tiny.gradcam.png`, `${e.name}.tiny.gradcam.raw.png`]);
    for (const f of files) assert.ok(existsSync(path.join(out, f)), f);
  }
  assert.notEqual(rows[0].class, rows[1].class, 'two classes of the first image');
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { files: Record<string, unknown> };
  for (const f of ['summary.csv', ...rows.flatMap((row) => row.files.split(';'))]) assert.ok(f in record.files, `run.json lists ${f}`);

  // Without --recursive only the top level; a folder without images is one line (exit 1), nothing written.
  const top = await runCli(['gradcam', '--model', model, '--out', path.join(work, 'top'), '--json', photos]);
  assert.equal(top.code, 0, top.stderr);
  assert.deepEqual((lastJson(top) as { images: { key: string }[] }).images.map((i) => i.key), ['a.png', 'b.jpg', 'cat.png', 'd.webp']);
  const empty = path.join(work, 'empty');
  mkdirSync(path.join(empty, 'deeper'), { recursive: true });
  const e1 = await runCli(['shap', '--model', model, '--out', path.join(work, 'e1'), empty]);
  assertCleanError(e1, 1, new RegExp(`folder ${empty} holds no images \\(png, jpg, jpeg, webp.*it has 1 sub-folder: add --recursive`));
  const e2 = await runCli(['gradcam', '--model', model, '--recursive', '--out', path.join(work, 'e2'), empty]);
  assertCleanError(e2, 1, /holds no images/);
  assert.ok(!existsSync(path.join(work, 'e1')) && !existsSync(path.join(work, 'e2')), 'nothing written');
});

test('3 shards as 3 concurrent processes: byte-identical item files and the same merged summary as one unsharded run', async () => {
  const ref = path.join(work, 'unsharded');
  const one = await runCli([...SHAP, '--model', model, '--out', ref, photos]);
  assert.equal(one.code, 0, one.stderr);
  const out = path.join(work, 'sharded');
  const shards = await Promise.all([1, 2, 3].map((k) => runCli([...SHAP, '--model', model, '--shard', `${k}/3`, '--out', out, photos])));
  shards.forEach((r, k) => assert.equal(r.code, 0, `shard ${k + 1}: ${r.stderr}`));
  for (const k of [1, 2, 3]) for (const f of [`run.shard-${k}-of-3.json`, `summary.shard-${k}-of-3.csv`, `plan.shard-${k}-of-3.json`]) assert.ok(existsSync(path.join(out, f)), f);
  assert.ok(!existsSync(path.join(out, 'report.html')), 'no report before the merge');
  const files = itemFiles(ref);
  assert.equal(files.length, 7 * 2 * 3, '7 images x 2 classes x (png + csv + raw.png)');
  assert.deepEqual(itemFiles(out), files, 'the same item files');
  for (const f of files) assert.ok(readFileSync(path.join(out, f)).equals(readFileSync(path.join(ref, f))), `${f} is byte-identical`);
  // Each shard's table holds its own images: item i belongs to shard (i mod 3) + 1.
  const shard2 = [...new Set(readCsv(path.join(out, 'summary.shard-2-of-3.csv')).map((r) => r.image))];
  assert.deepEqual(shard2, [keys[1], keys[4]]);
  const m = await runCli(['merge', '--json', out]);
  assert.equal(m.code, 0, m.stderr);
  const merged = lastJson(m) as { done: number; items: number; missing: unknown[] };
  assert.deepEqual([merged.done, merged.items, merged.missing.length], [7, 7, 0]);
  const a = readCsv(path.join(ref, 'summary.csv'));
  const b = readCsv(path.join(out, 'summary.csv'));
  assert.equal(b.length, 7 * 2);
  assert.deepEqual(withoutSeconds(b), withoutSeconds(a), 'merged summary = unsharded summary (seconds apart)');
  assert.equal(readFileSync(path.join(out, 'summary.csv'), 'utf8').split('\n')[0], readFileSync(path.join(ref, 'summary.csv'), 'utf8').split('\n')[0]);
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { command: string; files: Record<string, unknown> };
  assert.equal(record.command, 'merge');
  // the shards' records and the merged one follow the one run-record schema
  const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(path.join(ROOT, 'docs', 'run-record.schema.json'), 'utf8')) as object);
  for (const f of ['run.json', 'run.shard-1-of-3.json', 'run.shard-3-of-3.json']) {
    assert.ok(validate(JSON.parse(readFileSync(path.join(out, f), 'utf8'))), `${f}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
  for (const f of [...files, 'summary.csv']) assert.ok(f in record.files, `run.json lists ${f}`);
  assert.ok(existsSync(path.join(out, 'report.html')), 'merge writes the report');
});

/** The item records under their final names (not the .dnnkit-tmp-* files being written). */
function itemRecords(out: string): string[] {
  const dir = path.join(out, 'items');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.')) : [];
}

/** Runs a shard and SIGKILLs it as soon as its first item record exists. */
function runAndKillAfterFirstItem(args: string[], out: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0' }, stdio: 'ignore' });
    let sent = false;
    const poll = setInterval(() => {
      if (sent) return;
      if (itemRecords(out).length > 0) { sent = true; child.kill('SIGKILL'); }
    }, 1);
    child.on('close', (_code, signal) => { clearInterval(poll); resolve(signal); });
  });
}

test('a shard killed with SIGKILL and rerun finishes without redoing its done items', async () => {
  const out = path.join(work, 'killed');
  // enough samples that an item takes a while: the kill lands between the first and the last item
  const args = ['shap', '--model', model, '--patches', '16', '--samples', '128', '--recursive', '--shard', '1/1', '--out', out, photos];
  const signal = await runAndKillAfterFirstItem(args, out);
  assert.equal(signal, 'SIGKILL', 'the shard was killed before it finished');
  const records = itemRecords(out);
  assert.ok(records.length >= 1 && records.length < 7, `killed after ${records.length} of 7 items`);
  const done = records.map((r) => JSON.parse(readFileSync(path.join(out, 'items', r), 'utf8')) as { key: string; files: Record<string, number> });
  const before = new Map<string, { ino: number; mtimeMs: number }>();
  for (const d of done) for (const f of [...Object.keys(d.files)]) { const st = statSync(path.join(out, f)); before.set(f, { ino: st.ino, mtimeMs: st.mtimeMs }); }
  assert.ok(!existsSync(path.join(out, 'run.shard-1-of-1.json')), 'no record of the unfinished shard');
  const merge1 = await runCli(['merge', out]);
  assert.equal(merge1.code, 1, 'merge of an unfinished shard: exit 1');

  const rerun = await runCli(args);
  assert.equal(rerun.code, 0, rerun.stderr);
  for (const d of done) assert.match(rerun.stderr, new RegExp(`${d.key.replace(/[.]/g, '\\.')}: skipped, done by an earlier run`), `the log says ${d.key} was skipped`);
  assert.equal((rerun.stderr.match(/skipped, done/g) ?? []).length, done.length, 'only the done items are skipped');
  for (const [f, st] of before) {
    const now = statSync(path.join(out, f));
    assert.deepEqual({ ino: now.ino, mtimeMs: now.mtimeMs }, st, `${f} was not rewritten`);
  }
  assert.equal(itemRecords(out).length, 7, 'every item done');
  assert.deepEqual(readdirSync(path.join(out, 'items')).filter((n) => n.startsWith('.')), [], 'no temporary file left in items/');
  // and the result is that of an uninterrupted run
  const ref = path.join(work, 'killed-ref');
  const one = await runCli([...args.filter((a, i) => a !== '--shard' && args[i - 1] !== '--shard').map((a) => (a === out ? ref : a))]);
  assert.equal(one.code, 0, one.stderr);
  for (const f of itemFiles(ref)) assert.ok(readFileSync(path.join(out, f)).equals(readFileSync(path.join(ref, f))), `${f} equals the uninterrupted run's`);
  const m = await runCli(['merge', out]);
  assert.equal(m.code, 0, m.stderr);
  assert.deepEqual(withoutSeconds(readCsv(path.join(out, 'summary.csv'))), withoutSeconds(readCsv(path.join(ref, 'summary.csv'))));
});

test('merge names the missing items and their shard, exit 1; a finished set merges with exit 0', async () => {
  const out = path.join(work, 'partial');
  const args = (k: number) => ['gradcam', '--model', model, '--recursive', '--shard', `${k}/3`, '--out', out, photos];
  for (const k of [1, 3]) assert.equal((await runCli(args(k))).code, 0);
  const m = await runCli(['merge', out]);
  assertCleanError(m, 1, /2 of 7 items are missing \(shard 2\/3\): rerun those shards/);
  const missing = m.stdout.split('\n').filter((l) => l.startsWith('missing: '));
  assert.deepEqual(missing, [`missing: ${keys[1]} (shard 2/3)`, `missing: ${keys[4]} (shard 2/3)`]);
  assert.equal(readCsv(path.join(out, 'summary.csv')).length, 5, 'the partial table holds the 5 done items');
  const j = await runCli(['merge', '--json', out]);
  assert.equal(j.code, 1);
  assert.deepEqual((lastJson(j) as { missing: { key: string }[] }).missing.map((x) => x.key), [keys[1], keys[4]]);
  assert.equal((await runCli(args(2))).code, 0);
  const ok = await runCli(['merge', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /merged 7 of 7 items of gradcam/);
  // nothing to merge; shards of different settings
  assertCleanError(await runCli(['merge', path.join(work, 'nowhere')]), 1, /is not a folder/);
  assertCleanError(await runCli(['merge', photos]), 1, /holds no shard plans/);
  assert.equal((await runCli(['gradcam', '--model', model, '--recursive', '--layer', 'conv1', '--shard', '1/2', '--out', out, photos])).code, 0);
  assertCleanError(await runCli(['merge', out]), 1, /disagree on their settings/);
});

test('--shard auto: a SLURM array task and a Kubernetes Indexed Job pod pick their shard', async () => {
  const out = path.join(work, 'auto');
  const base = ['gradcam', '--model', model, '--recursive', '--out', out, '--json', photos];
  const clean = { SLURM_ARRAY_TASK_ID: '', SLURM_ARRAY_TASK_COUNT: '', SLURM_ARRAY_TASK_MIN: '', SLURM_ARRAY_TASK_STEP: '', JOB_COMPLETION_INDEX: '', DNNKIT_SHARD_COUNT: '' };
  // sbatch --array=1-3: task 2 is shard 2/3
  const s = await runCli([...base, '--shard', 'auto'], { env: { ...clean, SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' } });
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual((lastJson(s) as { shard: unknown }).shard, { index: 2, count: 3, source: 'slurm' });
  assert.ok(existsSync(path.join(out, 'run.shard-2-of-3.json')));
  // Indexed Job with completions 3: JOB_COMPLETION_INDEX 0 and 2 are shards 1/3 and 3/3
  for (const idx of ['0', '2']) {
    const k = await runCli([...base, '--shard', 'auto/3'], { env: { ...clean, JOB_COMPLETION_INDEX: idx } });
    assert.equal(k.code, 0, k.stderr);
    assert.deepEqual((lastJson(k) as { shard: unknown }).shard, { index: Number(idx) + 1, count: 3, source: 'kubernetes' });
  }
  assert.equal((await runCli(['merge', out])).code, 0, 'the three auto shards make a whole');
  const noCount = await runCli([...base, '--shard', 'auto'], { env: { ...clean, JOB_COMPLETION_INDEX: '1' } });
  assertCleanError(noCount, 2, /give --shard auto\/N with N = the Job's completions/);
  const bad = await runCli([...base, '--shard', '4/3'], { env: clean });
  assertCleanError(bad, 2, /--shard 4\/3: shard 4 of 3 does not exist/);
});
