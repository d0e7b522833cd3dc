/**
 * Reading a feature table from a CSV with a header, one point per row (the features.csv that
 * `dnnkit sst2` and `train-mnist --embed-plot` write, or any numeric table).
 *
 * Columns: the label column (`labelColumn`, default `label` when present) colours the points and
 * its values (class names or numbers) name the classes in the legend; a `predicted` column marks
 * misclassified points; `id` and `split` are metadata. The features are `columns` when given, else
 * every other column except `ignoreColumns`, where a column whose first non-empty cell is not a
 * number (a sentence, a file name) is left out and reported in `ignoredText`.
 */
import { parse } from 'csv-parse/sync';
import { InputError, UsageError } from '../core/errors.js';
import { parseDecimal, readUtf8File } from '../core/csv.js';
import { assertReadableFile } from '../core/fsutil.js';

/** Column names that are never features. */
export const PREDICTED_COLUMN = 'predicted';
export const METADATA_COLUMNS = ['id', 'split'] as const;
export const DEFAULT_LABEL_COLUMN = 'label';

/** Cells that mean "not a number" rather than text: a column holding them is numeric with a bad cell. */
const NON_FINITE = /^[-+]?(nan|inf|infinity)$/i;

export interface FeatureColumnOptions {
  /** Column with the class of each row; undefined = `label` if the file has one. */
  labelColumn?: string;
  /** Exactly these feature columns (each must exist and be numeric). */
  columns?: string[];
  /** Leave these columns out (each must exist). */
  ignoreColumns?: string[];
}

export interface FeatureTable {
  points: number[][];
  labels: string[];
  predicted?: string[];
  featureColumns: string[];
  labelColumn: string | null;
  /** Text columns left out on their own (not named in ignoreColumns). */
  ignoredText: string[];
}

interface Row {
  record: string[];
  info: { lines: number };
}

/**
 * Reads the CSV. Invalid UTF-8, ragged rows, feature cells that are empty, text, NaN or not
 * decimal ('0x1A'), and unknown column names are InputErrors that name the file (line, column).
 */
export async function readFeatureCsv(file: string, opts: FeatureColumnOptions = {}): Promise<FeatureTable> {
  if (opts.columns && opts.ignoreColumns) throw new UsageError('--columns and --ignore-columns exclude each other; name the feature columns with one of them');
  await assertReadableFile(file, 'CSV file');
  const text = await readUtf8File(file);
  let records: Row[];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true, info: true }) as never;
  } catch (err) {
    throw new InputError(`${file}: not a readable CSV (${(err as Error).message.split('\n')[0]})`);
  }
  if (records.length === 0) throw new InputError(`${file} has no header row; expected a CSV with a header and one point per row`);
  const header = records[0].record;
  const rows = records.slice(1);
  if (rows.length === 0) throw new InputError(`${file} has a header but no data rows`);
  for (const { record, info } of rows) {
    if (record.length !== header.length) {
      throw new InputError(`${file}:${info.lines}: ${record.length} cells but the header has ${header.length}; every row needs one cell per column`);
    }
  }
  const cols = selectColumns(file, header, rows, opts);
  const points = rows.map(({ record, info }) => cols.features.map((c) => {
    const v = parseDecimal(record[c]);
    if (!Number.isFinite(v)) {
      throw new InputError(`${file}:${info.lines}: column '${header[c]}' holds '${record[c]}', not a finite number; feature cells must be decimal numbers such as 12, -0.5 or 1e-3 (fix the cell, or leave the column out with --ignore-columns '${header[c]}')`);
    }
    return v;
  }));
  const labels = cols.label < 0 ? [] : rows.map(({ record, info }) => {
    if (record[cols.label] === '') throw new InputError(`${file}:${info.lines}: the label column '${header[cols.label]}' is empty; every row needs a label`);
    return record[cols.label];
  });
  return {
    points, labels, predicted: cols.predicted >= 0 ? rows.map((r) => r.record[cols.predicted]) : undefined,
    featureColumns: cols.features.map((i) => header[i]), labelColumn: cols.label >= 0 ? header[cols.label] : null,
    ignoredText: cols.ignoredText.map((i) => header[i]),
  };
}

/** Indices of the label, predicted and feature columns, and of the text columns left out. */
function selectColumns(file: string, header: string[], rows: Row[], opts: FeatureColumnOptions) {
  const lower = header.map((h) => h.toLowerCase());
  const indexOf = (name: string, flag: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new InputError(`${file}: no column '${name}' for ${flag}; the columns are ${header.slice(0, 12).join(', ')}${header.length > 12 ? ', ...' : ''}`);
    return i;
  };
  const label = opts.labelColumn !== undefined ? indexOf(opts.labelColumn, '--label-column') : lower.indexOf(DEFAULT_LABEL_COLUMN);
  const predicted = lower.indexOf(PREDICTED_COLUMN);
  if (opts.columns) {
    const features = opts.columns.map((c) => indexOf(c, '--columns'));
    const clash = features.find((i) => i === label);
    if (clash !== undefined) throw new InputError(`${file}: column '${header[clash]}' is the label column and cannot be a feature; leave it out of --columns`);
    return { label, predicted, features, ignoredText: [] as number[] };
  }
  const skip = new Set<number>([label, predicted, ...METADATA_COLUMNS.map((c) => lower.indexOf(c))].filter((i) => i >= 0));
  for (const c of opts.ignoreColumns ?? []) skip.add(indexOf(c, '--ignore-columns'));
  const candidates = header.map((_, i) => i).filter((i) => !skip.has(i));
  const ignoredText = candidates.filter((i) => isTextColumn(rows, i));
  const features = candidates.filter((i) => !ignoredText.includes(i));
  if (features.length === 0) {
    throw new InputError(`${file}: no numeric feature columns (the others are label/predicted/id/split${ignoredText.length ? `, or text: ${ignoredText.map((i) => header[i]).join(', ')}` : ''}${opts.ignoreColumns ? ', or ignored' : ''}); name the features with --columns`);
  }
  return { label, predicted, features, ignoredText };
}

/** A column is text when its first non-empty cell is neither a decimal number nor a NaN/Inf spelling. */
function isTextColumn(rows: Row[], c: number): boolean {
  for (const { record } of rows) {
    const cell = record[c];
    if (cell === '') continue;
    return !Number.isFinite(parseDecimal(cell)) && !NON_FINITE.test(cell);
  }
  return false;
}
