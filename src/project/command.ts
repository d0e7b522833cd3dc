/**
 * `dnnkit project FILE.csv --method pca|tsne|both`: PCA / t-SNE of any numeric CSV (a header
 * row, one point per row), e.g. the features.csv that `dnnkit sst2` writes or an MNIST layer.
 *
 * Columns: the label column (--label-column, default `label` when present) colours the points;
 * a `predicted` column, when present, marks misclassified points; `id` and `split` columns are
 * carried along; every other column is a feature and must hold finite numbers.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { parse } from 'csv-parse/sync';
import { addCommonOptions, action, floatArg, intArg, type CommonOptions } from '../core/command.js';
import { InputError, withPath } from '../core/errors.js';
import { parseDecimal, readUtf8File } from '../core/csv.js';
import { assertReadableFile, prepareOutDir, writeFileAtomic } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { TSNE_DEFAULTS } from './tsne.js';
import { PROJECTION_CHOICES, PROJECTIONS, projectFeatures, validateProjectionInput, type ProjectionChoice, type ProjectionSummary } from './index.js';

/** Column names that are never features. */
export const PREDICTED_COLUMN = 'predicted';
export const METADATA_COLUMNS = ['id', 'split'] as const;
export const DEFAULT_LABEL_COLUMN = 'label';

export interface ProjectOptions {
  method: ProjectionChoice;
  /** Column with the class of each row; undefined = `label` if the file has one. */
  labelColumn?: string;
  /** t-SNE perplexity. */
  perplexity: number;
  /** t-SNE iterations. */
  iterations: number;
}

export interface FeatureTable {
  points: number[][];
  labels: string[];
  predicted?: string[];
  featureColumns: string[];
  labelColumn: string | null;
}

/**
 * Reads a numeric CSV with a header. Invalid UTF-8, ragged rows, feature cells that are empty,
 * text, NaN or not decimal ('0x1A') and a missing --label-column are InputErrors that name the
 * file, line and column.
 */
export async function readFeatureCsv(file: string, labelColumn?: string): Promise<FeatureTable> {
  await assertReadableFile(file, 'CSV file');
  const text = await readUtf8File(file);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true, info: true }) as never;
  } catch (err) {
    throw new InputError(`${file}: not a readable CSV (${(err as Error).message.split('\n')[0]})`);
  }
  if (records.length === 0) throw new InputError(`${file} has no header row; expected a CSV with a header and one point per row`);
  const header = records[0].record;
  const rows = records.slice(1);
  if (rows.length === 0) throw new InputError(`${file} has a header but no data rows`);
  const lower = header.map((h) => h.toLowerCase());
  let labelIdx = -1;
  if (labelColumn !== undefined) {
    labelIdx = header.indexOf(labelColumn);
    if (labelIdx < 0) throw new InputError(`${file}: no column '${labelColumn}' for --label-column; the columns are ${header.slice(0, 12).join(', ')}${header.length > 12 ? ', ...' : ''}`);
  } else {
    labelIdx = lower.indexOf(DEFAULT_LABEL_COLUMN);
  }
  const predIdx = lower.indexOf(PREDICTED_COLUMN);
  const skip = new Set<number>([labelIdx, predIdx, ...METADATA_COLUMNS.map((c) => lower.indexOf(c))].filter((i) => i >= 0));
  const featureIdx = header.map((_, i) => i).filter((i) => !skip.has(i));
  if (featureIdx.length === 0) throw new InputError(`${file}: no feature columns (all columns are label/predicted/id/split)`);
  const points: number[][] = [];
  const labels: string[] = [];
  const predicted: string[] = [];
  for (const { record, info } of rows) {
    const line = info.lines;
    if (record.length !== header.length) {
      throw new InputError(`${file}:${line}: ${record.length} cells but the header has ${header.length}; every row needs one cell per column`);
    }
    const p = new Array<number>(featureIdx.length);
    featureIdx.forEach((c, j) => {
      const cell = record[c];
      const v = parseDecimal(cell);
      if (!Number.isFinite(v)) {
        throw new InputError(`${file}:${line}: column '${header[c]}' holds '${cell}', not a finite number; feature cells must be decimal numbers such as 12, -0.5 or 1e-3 (name the class column with --label-column)`);
      }
      p[j] = v;
    });
    points.push(p);
    if (labelIdx >= 0) {
      if (record[labelIdx] === '') throw new InputError(`${file}:${line}: the label column '${header[labelIdx]}' is empty; every row needs a label`);
      labels.push(record[labelIdx]);
    }
    if (predIdx >= 0) predicted.push(record[predIdx]);
  }
  return {
    points, labels, predicted: predIdx >= 0 ? predicted : undefined,
    featureColumns: featureIdx.map((i) => header[i]), labelColumn: labelIdx >= 0 ? header[labelIdx] : null,
  };
}

export type ProjectRunOptions = ProjectOptions & CommonOptions & { quiet?: boolean };

export interface ProjectSummary extends ProjectionSummary {
  file: string;
  labelColumn: string | null;
  outDir: string;
}

/** Reads and checks the CSV, then (only then) writes the projections into --out. */
export async function runProject(opts: ProjectRunOptions, file: string): Promise<ProjectSummary> {
  const log = createLogger(opts.json || opts.quiet);
  const table = await readFeatureCsv(file, opts.labelColumn);
  const input = { points: table.points, labels: table.labels, predicted: table.predicted, method: opts.method, perplexity: opts.perplexity, iterations: opts.iterations };
  validateProjectionInput(input, file);
  const outDir = await prepareOutDir(opts.out);
  log.info(`${file}: ${table.points.length} points, ${table.featureColumns.length} features, labels from ${table.labelColumn ?? '(none)'}`);
  const summary = await projectFeatures({ ...input, outDir, title: path.basename(file), seed: opts.seed, quiet: opts.json || opts.quiet });
  const result: ProjectSummary = { file, labelColumn: table.labelColumn, outDir, ...summary };
  const runJson = path.join(outDir, 'run.json');
  await writeFileAtomic(runJson, JSON.stringify({
    command: 'project', settings: { file, method: opts.method, labelColumn: table.labelColumn, perplexity: opts.perplexity, iterations: opts.iterations, seed: opts.seed },
    versions: { node: process.version }, result,
  }, null, 2)).catch((err) => { throw withPath(err, runJson); });
  for (const r of summary.results) {
    log.result(`${PROJECTIONS[r.method].title}: trustworthiness ${r.trustworthiness.toFixed(3)}${r.knnAccuracy === null ? '' : `, 5-NN accuracy in 2-D ${(100 * r.knnAccuracy).toFixed(1)}% (input space ${(100 * summary.inputKnnAccuracy!).toFixed(1)}%)`}`);
  }
  return result;
}

export function register(program: Command): void {
  addCommonOptions(
    program.command('project')
      .description('project the rows of a numeric CSV to 2-D with PCA and/or t-SNE; plots, coordinates, trustworthiness and 5-NN accuracy')
      .argument('<file>', 'CSV with a header, one point per row (e.g. features.csv from dnnkit sst2)'),
    'project',
  )
    .addOption(new Option('--method <name>', Object.entries(PROJECTIONS).map(([k, v]) => `${k}: ${v.help}`).join('; ') + '; both: each')
      .choices([...PROJECTION_CHOICES]).default('both'))
    .option('--label-column <name>', `column with each row's class (default: '${DEFAULT_LABEL_COLUMN}' when present)`)
    .option('--perplexity <x>', 't-SNE perplexity (needs more than 3 x perplexity rows)', floatArg('--perplexity', 1, 1000), TSNE_DEFAULTS.perplexity)
    .option('--iterations <n>', 't-SNE iterations (including 250 of early exaggeration)', intArg('--iterations', 250, 100_000), TSNE_DEFAULTS.iterations)
    .action(action((opts: ProjectRunOptions, args: string[]) => runProject(opts, args[0])));
}
