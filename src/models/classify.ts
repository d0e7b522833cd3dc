/**
 * `dnnkit classify`: top-5 classes of each image under a model (ImageNet names for resnet18/vgg16).
 * Prints a table per image on stdout (with --json, the summary instead) and writes
 * predictions.csv (file,rank,index,label,probability) and run.json in --out.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../core/backend.js';
import { recorded, type CommonOptions, type RunOutcome } from '../core/command.js';
import { writeCsv } from '../core/csv.js';
import { UsageError, withPath } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { invalidateRunRecord } from '../core/run_record.js';
import { readImageSize } from '../core/image.js';
import { createLogger } from '../core/log.js';
import { factsBeforeLoading, resolveModel, type LoadedModel } from './index.js';

export const TOP_K = 5;
export const DEFAULT_CLASSIFY_MODEL = 'resnet18';
/** The predictions file classify writes in --out. */
export const PREDICTIONS_CSV = 'predictions.csv';

export interface ClassifyOptions extends CommonOptions {
  /** resnet18 | vgg16 | path to a tfjs model.json or its folder. */
  model: string;
  /** dnnkit home for the model cache (default $DNNKIT_HOME or ~/.cache/dnnkit). */
  home?: string;
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
  images: Array<{ file: string; top5: Prediction[] }>;
}

/** Top-k of a probability vector, highest first. */
export function topK(probs: Float32Array | number[], k: number, classNames?: string[]): Prediction[] {
  const idx = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, k);
  return idx.map((i) => ({ index: i, label: classNames?.[i] ?? String(i), probability: probs[i] }));
}

/** Classifies `files`; the summary is what --json prints, the outcome lists the files for run.json. */
export async function run(opts: ClassifyOptions, files: string[]): Promise<RunOutcome<ClassifyResult>> {
  if (files.length === 0) throw new UsageError('give at least one image file: dnnkit classify --model resnet18 IMAGE...');
  for (const f of files) await readImageSize(f); // every file is an image, before anything heavy runs
  const backend = await initBackend(opts.backend);
  const log = createLogger(opts.json);
  const results: ClassifyResult['images'] = [];
  const inputs: tf.Tensor4D[] = [];
  let loaded: LoadedModel | undefined;
  try {
    // Decode every image before the model is resolved: a registry model may have to be downloaded.
    const early = factsBeforeLoading(opts.model)?.preprocess;
    if (early) for (const f of files) inputs.push((await early(f)).input);
    loaded = await resolveModel(opts.model, { home: opts.home, quiet: opts.json });
    const { model, preprocess, outputsLogits, classNames, name } = loaded;
    if (!early) for (const f of files) inputs.push((await preprocess(f)).input);
    const out = await prepareOutDir(opts.out);
    await invalidateRunRecord(out, ['predictions.json']);
    for (let i = 0; i < files.length; i++) {
      const probs = tf.tidy(() => {
        const y = model.predict(inputs[i]) as tf.Tensor;
        return (outputsLogits ? tf.softmax(y) : y).reshape([-1]);
      });
      const p = (await probs.data()) as Float32Array;
      probs.dispose();
      const top5 = topK(p, TOP_K, classNames);
      results.push({ file: files[i], top5 });
      if (i > 0) log.output('');
      log.output(`${path.basename(files[i])}  (${name})`);
      log.output(`  ${'#'.padEnd(3)}${'class'.padEnd(36)}${'index'.padStart(6)}  probability`);
      top5.forEach((t, r) => log.output(`  ${String(r + 1).padEnd(3)}${t.label.slice(0, 35).padEnd(36)}${String(t.index).padStart(6)}  ${t.probability.toFixed(4)}`));
    }
    const summary: ClassifyResult = { model: name, backend: backend.name, out, images: results };
    const csv = path.join(out, PREDICTIONS_CSV);
    await writeCsv(csv, ['file', 'rank', 'index', 'label', 'probability'],
      results.flatMap((r) => r.top5.map((t, k) => [r.file, k + 1, t.index, t.label, t.probability]))).catch((err) => { throw withPath(err, csv); });
    return recorded(summary, [PREDICTIONS_CSV], {
      outDir: out,
      settings: { model: opts.model, images: files, topK: TOP_K, outputsLogits, home: opts.home ?? null, seed: opts.seed },
    });
  } finally {
    inputs.forEach((t) => t.dispose());
    loaded?.model.dispose();
  }
}
