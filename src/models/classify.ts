/**
 * `dnnkit classify`: top-5 classes of each image under a model (ImageNet names for resnet18/vgg16).
 * Images may be folders (core/image_inputs.ts). Prints a table per image on stdout (with --json,
 * the summary instead) and writes predictions.csv (file,rank,index,label,probability) and run.json
 * in --out; with --shard K/N, predictions.shard-K-of-N.csv and run.shard-K-of-N.json (core/shard.ts).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../core/backend.js';
import { recorded, type CommonOptions, type RunOutcome } from '../core/command.js';
import { UsageError, withPath } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { buildRunRecord, writeRunRecord } from '../core/run_record.js';
import { collectImages } from '../core/image_inputs.js';
import { KeptImages } from '../core/kept_images.js';
import {
  beginShardRun, doneItems, emptyShardWarning, fingerprint, itemRecordPath, parseShard, shardItems, shardLockName, writeItemRecord, writeTable,
  type TableRow,
} from '../core/shard.js';
import { readImageSize } from '../core/image.js';
import { createLogger } from '../core/log.js';
import { factsBeforeLoading, resolveModel, type LoadedModel } from './index.js';

export const TOP_K = 5;
export const DEFAULT_CLASSIFY_MODEL = 'resnet18';
/** The predictions file classify writes in --out (one row per image and rank). */
export const PREDICTIONS_CSV = 'predictions.csv';
/** Names classify's item records (items/<name>.classify.json). */
const CLASSIFY_TAG = 'classify';

export interface ClassifyOptions extends CommonOptions {
  /** resnet18 | vgg16 | path to a tfjs model.json or its folder. */
  model: string;
  /** dnnkit home for the model cache (default $DNNKIT_HOME or ~/.cache/dnnkit). */
  home?: string;
  /** Folder arguments: also take the images in their sub-folders. */
  recursive?: boolean;
  /** `K/N` (1-based), `auto` or `auto/N`: classify one shard of the images (core/shard.ts). */
  shard?: string;
}

export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

export interface ClassifyResult {
  model: string;
  backend: string;
  out: string;
  /** This run's shard (1-based), or null. */
  shard: { index: number; count: number; source: string } | null;
  /** Images in the whole input (all shards). */
  totalImages: number;
  /** Images of this shard done by an earlier run and not classified again. */
  skipped: number;
  images: Array<{ file: string; top5: Prediction[] }>;
}

/** Top-k of a probability vector, highest first. */
export function topK(probs: Float32Array | number[], k: number, classNames?: string[]): Prediction[] {
  const idx = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, k);
  return idx.map((i) => ({ index: i, label: classNames?.[i] ?? String(i), probability: probs[i] }));
}

/**
 * Classifies images (files or folders); the summary is what --json prints. Unsharded, the outcome
 * lists the files for run.json (written by action()); with opts.shard the run writes
 * run.shard-K-of-N.json itself and skips images an earlier run of the shard finished.
 */
export async function run(opts: ClassifyOptions, args: string[]): Promise<RunOutcome<ClassifyResult> | ClassifyResult> {
  if (args.length === 0) throw new UsageError('give at least one image file: dnnkit classify --model resnet18 IMAGE...');
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  const started = new Date();
  const all = await collectImages(args, { recursive: opts.recursive });
  const mine = shardItems(all, shard);
  const fpr = fingerprint({ tag: CLASSIFY_TAG, model: opts.model, topK: TOP_K });
  const done = await doneItems(opts.out, mine, CLASSIFY_TAG, fpr, shard);
  const todo = mine.filter((it) => !done.has(it.name));
  for (const it of todo) await readImageSize(it.file); // every file is an image, before anything heavy runs
  const backend = await initBackend(opts.backend);
  const log = createLogger(opts.json);
  const results: ClassifyResult['images'] = [];
  const images = new KeptImages();
  let loaded: LoadedModel | undefined;
  try {
    // Decode every image before the model is resolved: a registry model may have to be downloaded.
    const early = factsBeforeLoading(opts.model)?.preprocess;
    if (early) for (const it of todo) images.offer(it.file, await early(it.file));
    loaded = await resolveModel(opts.model, { home: opts.home, quiet: opts.json });
    const { model, preprocess, outputsLogits, classNames, name } = loaded;
    if (!early) for (const it of todo) images.offer(it.file, await preprocess(it.file));
    const out = await prepareOutDir(opts.out, { lock: shardLockName(shard) });
    const { recordName, tableName, written } = await beginShardRun(out, { shard, command: 'classify', tag: CLASSIFY_TAG, table: PREDICTIONS_CSV, fingerprint: fpr, items: all, legacy: ['predictions.json'] });
    const empty = emptyShardWarning(shard, all.length, 'images');
    if (empty) log.warn(empty);
    const rows: TableRow[] = [];
    for (const it of mine) {
      const rec = done.get(it.name);
      let top5: Prediction[];
      if (rec) {
        log.info(`${it.key}: skipped, done by an earlier run (${itemRecordPath(it.name, CLASSIFY_TAG)})`);
        top5 = (rec.entries[0] as { top5: Prediction[] }).top5;
        rows.push(...rec.rows);
        written.push(itemRecordPath(it.name, CLASSIFY_TAG));
      } else {
        const t0 = Date.now();
        const input = images.take(it.file)?.input ?? (await preprocess(it.file)).input;
        let p: Float32Array;
        try {
          p = tf.tidy(() => {
            const y = model.predict(input) as tf.Tensor;
            return (outputsLogits ? tf.softmax(y) : y).reshape([-1]).dataSync() as Float32Array;
          });
        } finally {
          input.dispose();
        }
        top5 = topK(p, TOP_K, classNames);
        const itemRows = top5.map((t, k) => ({ file: it.file, rank: k + 1, index: t.index, label: t.label, probability: t.probability }));
        rows.push(...itemRows);
        // the item's record is its output: from now on a rerun of this shard skips it
        if (shard) written.push(await writeItemRecord(out, CLASSIFY_TAG, { key: it.key, name: it.name, fingerprint: fpr, files: [], rows: itemRows, entries: [{ file: it.file, top5 }], seconds: (Date.now() - t0) / 1000 }));
      }
      results.push({ file: it.file, top5 });
      if (results.length > 1) log.output('');
      log.output(`${it.key === it.file ? path.basename(it.file) : it.key}  (${name})`); // a file argument by its name, a folder's image by its path in the folder
      log.output(`  ${'#'.padEnd(3)}${'class'.padEnd(36)}${'index'.padStart(6)}  probability`);
      top5.forEach((t, r) => log.output(`  ${String(r + 1).padEnd(3)}${t.label.slice(0, 35).padEnd(36)}${String(t.index).padStart(6)}  ${t.probability.toFixed(4)}`));
    }
    const summary: ClassifyResult = { model: name, backend: backend.name, out, shard: shard ? { ...shard } : null, totalImages: all.length, skipped: done.size, images: results };
    const csv = path.join(out, tableName);
    await writeTable(csv, rows).catch((err) => { throw withPath(err, csv); });
    written.push(tableName);
    const settings = { model: opts.model, images: args, recursive: opts.recursive === true, shard: shard ? `${shard.index}/${shard.count}` : null, topK: TOP_K, outputsLogits, home: opts.home ?? null, seed: opts.seed };
    if (!shard) return recorded(summary, written, { outDir: out, settings });
    await writeRunRecord(out, buildRunRecord({ command: 'classify', started, seed: opts.seed, settings, result: summary }), written, recordName);
    return summary;
  } finally {
    images.dispose();
    loaded?.model.dispose();
  }
}
