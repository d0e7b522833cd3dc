/**
 * `dnnkit project FILE.csv --method pca,tsne,umap`: 2-D projections of any numeric CSV (a header
 * row, one point per row), e.g. the features.csv that `dnnkit sst2` writes or an MNIST layer.
 * Declares the options (the methods and their options from the registry), reads the table
 * (feature_csv.ts), calls projectFeatures (index.ts) and reports.
 */
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addCommonOptions, action, floatArg, intArg, recorded, type CommonOptions } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { DEFAULT_LABEL_COLUMN, readFeatureCsv } from './feature_csv.js';
import {
  describeChoices, flagOf, KNN_K, methodsOf, PROJECTION_METHODS, PROJECTIONS, projectFeatures, resolveProjection, validateProjectionInput,
  type MethodSpec, type OptionValues, type ProjectionMethod, type ProjectionSummary,
} from './index.js';

export { readFeatureCsv, DEFAULT_LABEL_COLUMN, METADATA_COLUMNS, PREDICTED_COLUMN, type FeatureTable } from './feature_csv.js';

export interface ProjectOptions {
  /** Methods to run, in order: a list, or a name, an alias or a comma-separated list (registry.ts methodsOf). */
  method: MethodSpec;
  /** Column with the class of each row; undefined = `label` if the file has one. */
  labelColumn?: string;
  /** Exactly these feature columns. */
  columns?: string[];
  /** Columns to leave out. */
  ignoreColumns?: string[];
  /** The methods' options by key (registry.ts), e.g. perplexity, neighbors, minDist. */
  [option: string]: unknown;
}

export type ProjectRunOptions = ProjectOptions & CommonOptions & { quiet?: boolean };

export interface ProjectSummary extends ProjectionSummary {
  file: string;
  labelColumn: string | null;
  featureColumns: number;
  ignoredColumns: string[];
  outDir: string;
}

/** The registry options' values among the parsed options. */
function methodOptions(opts: ProjectRunOptions): Partial<OptionValues> {
  const out: Partial<OptionValues> = {};
  for (const m of PROJECTION_METHODS) for (const o of PROJECTIONS[m].options) if (typeof opts[o.key] === 'number') out[o.key] = opts[o.key] as number;
  return out;
}

/** Reads and checks the CSV, then (only then) writes the projections into --out. */
export async function runProject(opts: ProjectRunOptions, file: string) {
  const log = createLogger(opts.quiet);
  const methods = methodsOf(opts.method);
  const table = await readFeatureCsv(file, { labelColumn: opts.labelColumn, columns: opts.columns, ignoreColumns: opts.ignoreColumns });
  const input = { points: table.points, labels: table.labels, predicted: table.predicted, method: methods, options: methodOptions(opts) };
  validateProjectionInput(input, file);
  // an option set away from its default for a method that does not run is a mistake worth a line
  for (const m of PROJECTION_METHODS.filter((x) => !methods.includes(x))) {
    for (const o of PROJECTIONS[m].options) {
      if (opts[o.key] !== undefined && opts[o.key] !== o.default) log.warn(`${flagOf(o.key)} applies to ${m}, which --method does not include; it is ignored`);
    }
  }
  if (table.ignoredText.length > 0) {
    log.info(`${file}: ignoring ${table.ignoredText.length} non-numeric column${table.ignoredText.length === 1 ? '' : 's'}: ${table.ignoredText.join(', ')} (choose the features with --columns or --ignore-columns)`);
  }
  const outDir = await prepareOutDir(opts.out);
  log.info(`${file}: ${table.points.length} points, ${table.featureColumns.length} features, labels from ${table.labelColumn ?? '(none)'}`);
  const summary = await projectFeatures({ ...input, outDir, title: path.basename(file), seed: opts.seed, quiet: opts.quiet });
  const result: ProjectSummary = {
    file, labelColumn: table.labelColumn, featureColumns: table.featureColumns.length, ignoredColumns: table.ignoredText, outDir, ...summary,
  };
  for (const r of summary.results) {
    log.result(`${PROJECTIONS[r.method].title}: trustworthiness ${r.trustworthiness.toFixed(3)}${r.knnAccuracy === null ? '' : `, ${KNN_K}-NN accuracy in 2-D ${(100 * r.knnAccuracy).toFixed(1)}% (input space ${(100 * summary.inputKnnAccuracy!).toFixed(1)}%)`}`);
  }
  const settings = {
    file, method: methods, labelColumn: table.labelColumn, columns: table.featureColumns, ignoredColumns: table.ignoredText, seed: opts.seed,
    methods: Object.fromEntries(resolveProjection(input).map(({ method, options }) => [method, options])),
  };
  const files = ['projection-summary.csv', ...summary.results.flatMap((r) => r.files.map((f) => path.relative(outDir, f)))];
  return recorded(result, files, { outDir, settings });
}

/** Parses --method: a comma-separated list of methods and aliases. */
function methodArg(value: string): ProjectionMethod[] {
  try {
    return methodsOf(value);
  } catch (e) {
    if (e instanceof UsageError) throw new InvalidArgumentError(e.message.replace(/^unknown projection method/, 'unknown method'));
    throw e;
  }
}

/** Parses a comma-separated list of column names. */
function columnList(flag: string) {
  return (value: string): string[] => {
    const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (names.length === 0) throw new InvalidArgumentError(`${flag} needs one or more column names, comma-separated`);
    return names;
  };
}

export function register(program: Command): void {
  const cmd = addCommonOptions(
    program.command('project')
      .description(`project the rows of a numeric CSV to 2-D (${PROJECTION_METHODS.map((m) => PROJECTIONS[m].title).join(', ')}); plots, coordinates, trustworthiness and ${KNN_K}-NN accuracy`)
      .argument('<file>', 'CSV with a header, one point per row (e.g. features.csv from dnnkit sst2)'),
    'project',
  )
    .addOption(new Option('--method <list>', `${describeChoices()}. ${PROJECTION_METHODS.map((m) => `${m}: ${PROJECTIONS[m].description}`).join('; ')}`)
      .argParser(methodArg).default(methodsOf('both'), 'both'))
    .option('--label-column <name>', `column with each row's class (default: '${DEFAULT_LABEL_COLUMN}' when present); its values name the classes in the plots`)
    .option('--columns <names>', 'use exactly these feature columns (comma-separated)', columnList('--columns'))
    .option('--ignore-columns <names>', 'leave these columns out (comma-separated); text columns are left out anyway, with a note', columnList('--ignore-columns'));
  for (const m of PROJECTION_METHODS) {
    for (const o of PROJECTIONS[m].options) {
      const parse = o.integer ? intArg(flagOf(o.key), o.min, o.max) : floatArg(flagOf(o.key), o.min, o.max);
      // no commander default: a value in opts is one the user gave (and is warned about when its method does not run)
      cmd.addOption(new Option(`${flagOf(o.key)} <${o.integer ? 'n' : 'x'}>`, `${o.description} [${m}] (default: ${o.default})`).argParser(parse));
    }
  }
  cmd.action(action((opts: ProjectRunOptions, args: string[]) => runProject(opts, args[0])));
}
