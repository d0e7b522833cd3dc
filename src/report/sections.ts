/**
 * The report's sections, in page order. Each reads what the runs hold (record fields, CSV files,
 * images) and returns HTML, or null when none of the runs has anything for it: the contents
 * follow from the files, so a command the report does not know still gets its settings and files.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ChartSet, esc, formatBytes } from './html.js';
import { fileDataUri, pick, pickFirst, readRunFolder, readTable, type RunFolder, type Table } from './run_folder.js';
import {
  aucSpec, confusionSpec, faithfulnessSpec, learningCurvesSpec, mapSpec, scatterSpec, tokenSpec,
  type AucPoint, type ConfusionCell, type CurvePoint, type FaithfulnessPoint, type MapCell, type ScatterPoint, type TokenCell,
} from './specs.js';
import { loadTestDigits } from './digits.js';
import { lookUpSentences, probabilityColumn } from './sentences.js';

/** Points drawn per projection at most; larger projections are sampled evenly (the page says so). */
export const POINT_CAP = 2000;

/** What every section gets. */
export interface SectionContext {
  runs: RunFolder[];
  charts: ChartSet;
  /** Point cap of the projections. */
  pointCap: number;
}

/** A section: its anchor, heading and builder. */
export interface SectionDef {
  id: string;
  title: string;
  build(ctx: SectionContext): Promise<string | null>;
}

/** Lays out one block per run side by side (or just the block, for one run). */
function perRun(ctx: SectionContext, blocks: (string | null)[]): string | null {
  if (blocks.every((b) => b === null)) return null;
  if (ctx.runs.length === 1) return blocks[0];
  return `<div class="row">${blocks.map((b, i) => `<div class="run-col"><h3>${esc(ctx.runs[i].name)}</h3>${b ?? '<p class="note">(nothing for this run)</p>'}</div>`).join('')}</div>`;
}

/** `fn` on each run in turn (in order: chart numbers follow the page, and model runs do not overlap). */
async function eachRun<T>(ctx: SectionContext, fn: (run: RunFolder) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const run of ctx.runs) out.push(await fn(run));
  return out;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A number as the tables show it. */
function fmt(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Math.abs(v) >= 1000 ? v.toFixed(1) : Math.abs(v) >= 0.01 ? v.toFixed(4) : v.toPrecision(3);
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Flattens nested settings to dotted keys (arrays stay one value). */
function flatten(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    if (prefix) out[prefix] = obj;
    return out;
  }
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** Results whose mean over runs means nothing. */
const NO_SPREAD = new Set(['seed', 'peakRssBytes']);

/** A key/value table with one value column per run; rows whose values differ between runs are marked. */
function comparisonTable(ctx: SectionContext, values: Record<string, unknown>[], opts: { spread?: boolean } = {}): string {
  const keys = [...new Set(values.flatMap((v) => Object.keys(v)))];
  if (keys.length === 0) return '<p class="note">(none recorded)</p>';
  const many = ctx.runs.length > 1;
  const head = many ? `<tr><th></th>${ctx.runs.map((r) => `<th>${esc(r.name)}</th>`).join('')}${opts.spread ? '<th>mean +- s.d.</th>' : ''}</tr>` : '';
  const rows = keys.map((k) => {
    const cells = values.map((v) => v[k]);
    const differ = many && new Set(cells.map((c) => JSON.stringify(c))).size > 1;
    const nums = cells.map(num);
    let spread = '';
    if (opts.spread && many && !NO_SPREAD.has(k)) {
      const xs = nums.filter((x): x is number => x !== null);
      if (xs.length === cells.length && xs.length > 1) {
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
        spread = `<td class="num">${fmt(mean)} +- ${fmt(sd)}</td>`;
      } else spread = '<td></td>';
    }
    return `<tr><td>${esc(k)}</td>${cells.map((c) => `<td class="${typeof c === 'number' ? 'num' : ''}${differ ? ' diff' : ''}">${esc(fmt(c))}</td>`).join('')}${spread}</tr>`;
  });
  return `<table class="kv">${head}${rows.join('')}</table>${many && rows.some((r) => r.includes(' diff')) ? '<p class="note">Highlighted rows differ between the runs.</p>' : ''}`;
}

/** The results a run reports: record.result, or the record's own top-level scalars for older records. */
export function resultsOf(run: RunFolder): Record<string, unknown> {
  const res = run.record.result && typeof run.record.result === 'object' ? (run.record.result as Record<string, unknown>) : run.record;
  const skip = new Set(['command', 'settings', 'backend', 'versions', 'files', 'argv', 'schemaVersion', 'outDir', 'finishedAt', 'started', 'ended', 'dnnkit', 'model', 'methods']);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(res)) {
    if (skip.has(k) && res === run.record) continue;
    // numbers and short words; file paths (curvesCsv, outDir) are in the Files section
    const isPath = typeof v === 'string' && (path.isAbsolute(v) || /\.(csv|png|svg|json|html)$/.test(v));
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length < 80 && !isPath)) out[k] = v;
  }
  for (const k of ['wallSeconds', 'peakRssBytes']) if (num(run.record[k]) !== null && !(k in out)) out[k] = run.record[k];
  return out;
}

// ---------------------------------------------------------------------------------------------

const resultsSection: SectionDef = {
  id: 'results',
  title: 'Results',
  async build(ctx) {
    const values = ctx.runs.map(resultsOf);
    if (values.every((v) => Object.keys(v).length === 0)) return null;
    return comparisonTable(ctx, values, { spread: true });
  },
};

const settingsSection: SectionDef = {
  id: 'settings',
  title: 'Settings and backend',
  async build(ctx) {
    const settings = ctx.runs.map((r) => {
      const flat = flatten(r.record.settings ?? {});
      for (const k of ['model', 'images', 'methods']) if (r.record[k] !== undefined && typeof r.record[k] !== 'object') flat[k] = r.record[k];
      if (Array.isArray(r.record.methods)) flat.methods = r.record.methods;
      return flat;
    });
    const backend = ctx.runs.map((r) => {
      const b = r.record.backend;
      const out: Record<string, unknown> = {};
      if (typeof b === 'string') out.backend = b;
      else if (b && typeof b === 'object') {
        const o = b as Record<string, unknown>;
        out.backend = o.name;
        out['tfjs backend'] = o.tfjsName;
        out.threads = o.threads;
        out.simd = o.simd;
        const project = pickFirst(o, ['kernels', 'project'], ['projectKernels']);
        const native = pickFirst(o, ['kernels', 'native'], ['nativeKernels']);
        if (Array.isArray(project)) out['project kernels'] = project;
        if (Array.isArray(native)) out['native kernels'] = native;
      }
      const versions = r.record.versions;
      if (versions && typeof versions === 'object') for (const [k, v] of Object.entries(versions)) if (v !== null) out[k] = v;
      if (typeof r.record.dnnkit === 'string') out.dnnkit = r.record.dnnkit;
      if (Array.isArray(r.record.argv) && r.record.argv.length > 0) out.command = `dnnkit ${(r.record.argv as string[]).join(' ')}`;
      if (typeof r.record.started === 'string') out.started = r.record.started;
      const finished = r.record.ended ?? r.record.finishedAt;
      if (typeof finished === 'string') out.ended = finished;
      return out;
    });
    return `<h3>Settings the run used</h3>${comparisonTable(ctx, settings)}<h3>Backend and versions</h3>${comparisonTable(ctx, backend)}`;
  },
};

/** train-mnist / sst2 metrics.csv: one row per epoch; held-out columns prefixed val_ or dev_. */
async function curvePoints(run: RunFolder): Promise<CurvePoint[]> {
  const t = await readTable(run, 'metrics.csv');
  if (!t || !t.columns.includes('epoch')) return [];
  const points: CurvePoint[] = [];
  for (const row of t.rows) {
    const epoch = num(row.epoch);
    if (epoch === null) continue;
    for (const c of t.columns) {
      const m = /^(?:(\w+?)_)?(loss|acc|accuracy)$/.exec(c);
      const value = num(row[c]);
      if (!m || value === null) continue;
      points.push({ run: run.name, epoch, metric: m[2] === 'loss' ? 'loss' : 'accuracy', split: m[1] ?? 'train', value });
    }
  }
  return points;
}

const curvesSection: SectionDef = {
  id: 'curves',
  title: 'Learning curves',
  async build(ctx) {
    const points = (await eachRun(ctx, curvePoints)).flat();
    if (points.length === 0) return null;
    const runsWith = new Set(points.map((p) => p.run)).size;
    return ctx.charts.place(learningCurvesSpec(points, runsWith), 'Per epoch (metrics.csv): training loss and accuracy are means over the epoch\'s batches (dropout on); held-out ones are measured after the epoch. Hover a point for its value.');
  },
};

/** confusion.csv: first column the true class, then one column per predicted class. */
function confusionCells(t: Table): { cells: ConfusionCell[]; classes: string[] } | null {
  const [first, ...classes] = t.columns;
  if (!first || classes.length === 0) return null;
  const cells: ConfusionCell[] = [];
  for (const row of t.rows) {
    const counts = classes.map((c) => num(row[c]) ?? 0);
    const total = counts.reduce((a, b) => a + b, 0);
    classes.forEach((c, j) => cells.push({ truth: String(row[first]), predicted: c, count: counts[j], share: total > 0 ? counts[j] / total : 0 }));
  }
  return { cells, classes };
}

const confusionSection: SectionDef = {
  id: 'confusion',
  title: 'Confusion matrix',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const t = await readTable(run, 'confusion.csv');
      const c = t && confusionCells(t);
      if (!c) return null;
      const size = ctx.runs.length > 1 ? 240 : 300;
      const total = c.cells.reduce((a, b) => a + b.count, 0);
      const correct = c.cells.filter((x) => x.truth === x.predicted).reduce((a, b) => a + b.count, 0);
      return `<div class="row">${ctx.charts.place(confusionSpec(c.cells, c.classes, 'count', size))}${ctx.charts.place(confusionSpec(c.cells, c.classes, 'share', size))}</div>`
        + `<p class="note">${total.toLocaleString('en-US')} test examples, ${correct.toLocaleString('en-US')} on the diagonal (${((100 * correct) / Math.max(1, total)).toFixed(2)}%). Rows: true class; columns: predicted.</p>`;
    });
    return perRun(ctx, blocks);
  },
};

const misclassifiedSection: SectionDef = {
  id: 'errors',
  title: 'Misclassified examples',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const uri = await fileDataUri(run, 'errors.png');
      return uri ? `<div class="gallery"><figure><img alt="misclassified test digits" src="${uri}"><figcaption>errors.png: test digits the model got wrong, with true and predicted class.</figcaption></figure></div>` : null;
    });
    return perRun(ctx, blocks);
  },
};

// ---------------------------------------------------------------------------------------------
// Projections

/** embed-<method>.csv files of a run (index,label,predicted,x,y). */
function projectionFiles(run: RunFolder): string[] {
  return run.files.filter((f) => /^embed-[\w-]+\.csv$/.test(f));
}

/** Evenly spaced indices: `cap` of `n` (all of them when n <= cap). */
export function evenSample(n: number, cap: number): number[] {
  if (n <= cap) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: cap }, (_, i) => Math.floor((i * n) / cap));
}

/** The projection quality numbers of projection-summary.csv for `method`. */
function projectionScores(summary: Table | null, method: string): string {
  const row = summary?.rows.find((r) => r.method === method);
  if (!row) return '';
  const parts: string[] = [];
  if (num(row.trustworthiness) !== null) parts.push(`trustworthiness (k=${row.trustworthiness_k}) ${(row.trustworthiness as number).toFixed(3)}`);
  if (num(row.knn5_accuracy_2d) !== null) parts.push(`5-NN accuracy in 2-D ${(100 * (row.knn5_accuracy_2d as number)).toFixed(1)}% (input space ${(100 * (row.knn5_accuracy_input as number)).toFixed(1)}%)`);
  if (num(row.seconds) !== null) parts.push(`${(row.seconds as number).toFixed(1)} s`);
  return parts.join(', ');
}

/** Tooltip extras for the points of one run: sentences (sst2) or digit images (train-mnist). */
interface PointDecorator {
  /** What hovering a point shows besides the labels. */
  shows: 'sentence' | 'digit' | 'labels';
  note: string;
  decorate(p: ScatterPoint): void;
}

/** SST-2: features.csv rows hold `<split>-<row>` ids; the projection's index is the features.csv row. */
async function sentenceDecorator(run: RunFolder, indices: number[]): Promise<PointDecorator | null> {
  // sst2 writes features.csv beside its projections; `dnnkit project` names the CSV it projected
  let source: RunFolder | null = run.files.includes('features.csv') ? run : null;
  const projected = pick(run.record, 'settings', 'file');
  if (!source && typeof projected === 'string' && path.basename(projected) === 'features.csv') {
    source = await readRunFolder(path.dirname(path.resolve(run.dir, projected))).catch(() => null);
    if (source && !source.files.includes('features.csv')) source = null;
  }
  if (!source) return null;
  const features = await readIdColumns(path.join(source.dir, 'features.csv'));
  if (!features || !features.ids.some((id) => /^(dev|test|train)-\d+$/.test(id))) return null;
  const ids = indices.map((i) => features.ids[i]).filter((id): id is string => id !== undefined);
  const lookup = await lookUpSentences(source, ids, features.probabilities);
  return {
    shows: lookup.byId.size > 0 ? 'sentence' : 'labels',
    note: lookup.note,
    decorate(p) {
      const info = lookup.byId.get(features.ids[p.index]);
      if (!info) return;
      p.title = info.sentence;
      p.probability = info.probability;
    },
  };
}

/** The id column (and a probability column, if any) of a features.csv, without parsing its thousands of numbers. */
async function readIdColumns(file: string): Promise<{ ids: string[]; probabilities: Map<string, number> } | null> {
  const text = await fsp.readFile(file, 'utf8').catch(() => null);
  if (!text) return null;
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  const header = lines[0].split(',');
  const idCol = header.indexOf('id');
  if (idCol < 0) return null;
  const probName = probabilityColumn(header);
  const probCol = probName ? header.indexOf(probName) : -1;
  const ids: string[] = [];
  const probabilities = new Map<string, number>();
  for (const line of lines.slice(1)) {
    const cells = line.split(',', Math.max(idCol, probCol) + 1);
    ids.push(cells[idCol]);
    if (probCol >= 0 && Number.isFinite(Number(cells[probCol]))) probabilities.set(cells[idCol], Number(cells[probCol]));
  }
  return { ids, probabilities };
}

/** MNIST: the projection's index is the test digit's index (train-mnist projects the first N test digits). */
async function digitDecorator(run: RunFolder, rows: Table['rows']): Promise<PointDecorator | null> {
  if (!/mnist/.test(run.command)) return null;
  let dir = pickFirst(run.record, ['settings', 'dataDir']);
  if (typeof dir !== 'string') {
    const { defaultMnistDir } = await import('../mnist/data.js');
    dir = defaultMnistDir();
  }
  const digits = await loadTestDigits(dir as string).catch(() => null);
  if (!digits) return null;
  // the labels must agree, or these are not the digits that were projected
  const mismatched = rows.filter((r) => {
    const i = num(r.index);
    return i === null || i >= digits.count || String(digits.labels[i]) !== String(r.label);
  }).length;
  if (mismatched > 0) return { shows: 'labels', note: `digit images left out: ${mismatched} points do not match the MNIST test labels in ${dir}`, decorate() {} };
  return {
    shows: 'digit',
    note: `digit images from the MNIST test split in ${dir}`,
    decorate(p) {
      p.image = digits.dataUri(p.index);
    },
  };
}

const projectionSection: SectionDef = {
  id: 'projections',
  title: 'Projections',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const files = projectionFiles(run);
      if (files.length === 0) return null;
      const summary = await readTable(run, 'projection-summary.csv');
      const parts: string[] = [];
      for (const f of files) {
        const t = await readTable(run, f);
        if (!t || !t.columns.includes('x') || !t.columns.includes('y')) continue;
        const method = f.replace(/^embed-|\.csv$/g, '');
        const keep = evenSample(t.rows.length, ctx.pointCap);
        const rows = keep.map((i) => t.rows[i]);
        const points: ScatterPoint[] = rows.map((r, k) => {
          const label = r.label === undefined ? '' : String(r.label);
          const predicted = r.predicted === undefined ? '' : String(r.predicted);
          return {
            x: num(r.x) ?? 0, y: num(r.y) ?? 0, label, predicted,
            correct: label !== '' && predicted !== '' ? (label === predicted ? 'yes' : 'no') : '',
            index: num(r.index) ?? keep[k],
          };
        });
        const decorator = (await sentenceDecorator(run, points.map((p) => p.index))) ?? (await digitDecorator(run, rows));
        for (const p of points) decorator?.decorate(p);
        const capped = t.rows.length > ctx.pointCap
          ? `Showing ${points.length.toLocaleString('en-US')} of ${t.rows.length.toLocaleString('en-US')} points, sampled evenly through the file (the cap is ${ctx.pointCap.toLocaleString('en-US')} points per projection; dnnkit report --point-cap changes it).`
          : `All ${points.length.toLocaleString('en-US')} points (the cap is ${ctx.pointCap.toLocaleString('en-US')} per projection).`;
        const scores = projectionScores(summary, method);
        const caption = `${esc(f)}: ${capped} Drag to pan, scroll to zoom, double-click to reset; hover a point for its ${decorator?.shows ?? 'labels'}.${scores ? ` ${esc(scores)}.` : ''}${decorator ? ` <span class="note">(${esc(decorator.note)})</span>` : ''}`;
        parts.push(ctx.charts.place(scatterSpec(points, { title: method.toUpperCase().replace('TSNE', 't-SNE').replace('UMAP', 'UMAP'), size: ctx.runs.length > 1 ? 340 : 460 }), caption));
      }
      return parts.length > 0 ? `<div class="row">${parts.join('')}</div>` : null;
    });
    return perRun(ctx, blocks);
  },
};

// ---------------------------------------------------------------------------------------------
// Explanations

/** explain-eval's curves.csv (method,curve,step,fraction,mean_probability[,se]) as chart points. */
async function faithfulnessPoints(run: RunFolder): Promise<FaithfulnessPoint[]> {
  const t = await readTable(run, 'curves.csv');
  if (!t || !['method', 'curve', 'fraction', 'mean_probability'].every((c) => t.columns.includes(c))) return [];
  const seCol = ['se', 'probability_se', 'mean_probability_se', 'sem'].find((c) => t.columns.includes(c));
  return t.rows.map((r) => {
    const p = num(r.mean_probability) ?? 0;
    const se = seCol ? num(r[seCol]) : null;
    return { run: run.name, method: String(r.method), curve: String(r.curve), fraction: num(r.fraction) ?? 0, probability: p, ...(se !== null ? { lo: p - se, hi: p + se } : {}) };
  });
}

/** AUC tables: explain-eval's auc.csv (deletion_auc_se) or explain-text's faithfulness.csv (deletion_se). */
const AUC_FILES = ['auc.csv', 'faithfulness.csv'];

async function aucTable(run: RunFolder): Promise<{ file: string; table: Table } | null> {
  for (const file of AUC_FILES) {
    const table = await readTable(run, file);
    if (table && table.columns.includes('method') && table.columns.includes('deletion_auc')) return { file, table };
  }
  return null;
}

async function aucPoints(run: RunFolder): Promise<AucPoint[]> {
  const t = (await aucTable(run))?.table;
  if (!t) return [];
  return t.rows.flatMap((r) => (['deletion', 'insertion'] as const).map((curve) => ({
    run: run.name, method: String(r.method), curve, auc: num(r[`${curve}_auc`]) ?? 0, se: num(r[`${curve}_auc_se`]) ?? num(r[`${curve}_se`]) ?? 0,
  })));
}

const faithfulnessSection: SectionDef = {
  id: 'faithfulness',
  title: 'Faithfulness: deletion and insertion',
  async build(ctx) {
    const curves = (await eachRun(ctx, faithfulnessPoints)).flat();
    const aucs = (await eachRun(ctx, aucPoints)).flat();
    if (curves.length === 0 && aucs.length === 0) return null;
    const runs = new Set([...curves, ...aucs].map((p) => p.run)).size;
    const parts: string[] = [];
    if (curves.length > 0) {
      const bands = curves.some((p) => p.lo !== undefined);
      parts.push(ctx.charts.place(faithfulnessSpec(curves, runs), `Mean probability of the explained class as pixels are removed in order of attribution (deletion: lower is more faithful) or added to a blank image (insertion: higher is more faithful), RISE (Petsiuk et al. 2018). ${bands ? 'Bands: +-1 standard error over the images.' : 'curves.csv holds the mean curve only, so no bands are drawn here; the AUC chart below has the standard errors.'} Hover for the numbers.`));
    }
    if (aucs.length > 0) {
      parts.push(ctx.charts.place(aucSpec(aucs, runs), 'Area under each curve (auc.csv or faithfulness.csv), mean over the images or sentences with +-1 standard error.'));
      parts.push(...await eachRun(ctx, async (run) => {
        const t = (await aucTable(run))?.table;
        if (!t) return '';
        return `${runs > 1 ? `<h3>${esc(run.name)}</h3>` : ''}<table><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${t.rows.map((r) => `<tr>${t.columns.map((c) => `<td class="${typeof r[c] === 'number' ? 'num' : ''}">${esc(fmt(r[c]))}</td>`).join('')}</tr>`).join('')}</table>`;
      }));
    }
    return parts.join('');
  },
};

/** Per-image numbers of an explain / gradcam / shap record. */
function imageNumbers(img: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['label', 'classIndex', 'probability', 'layer', 'grid', 'baseline', 'efficiencyGap', 'vFull', 'vEmpty', 'evaluations', 'permutations', 'completenessGap']) {
    if (img[k] !== undefined && typeof img[k] !== 'object') out[k] = img[k];
  }
  const byMethod = img.byMethod;
  if (byMethod && typeof byMethod === 'object') {
    for (const [m, v] of Object.entries(byMethod as Record<string, Record<string, unknown>>)) {
      for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && !(k in out)) out[`${m} ${k}`] = x;
    }
  }
  const phi = img.phi;
  const se = img.se;
  if (Array.isArray(phi) && phi.length > 0) {
    const sum = (phi as number[]).reduce((a, b) => a + b, 0);
    out['sum of phi'] = sum;
    if (Array.isArray(se) && se.length > 0) out['largest phi s.e.'] = Math.max(...(se as number[]));
  }
  return out;
}

/** Heatmaps from a run's per-image CSVs: `*.shap.csv` (patch,row,col,phi,se) and CAM grids (x0,x1,...). */
async function mapCharts(ctx: SectionContext, run: RunFolder, stem: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of run.files.filter((x) => x.startsWith(`${stem}.`) && x.endsWith('.csv'))) {
    const t = await readTable(run, f);
    if (!t) continue;
    const method = f.split('.').slice(-2, -1)[0];
    let cells: MapCell[] = [];
    if (['row', 'col', 'phi'].every((c) => t.columns.includes(c))) {
      cells = t.rows.map((r) => ({ row: num(r.row) ?? 0, col: num(r.col) ?? 0, value: num(r.phi) ?? 0, ...(num(r.se) !== null ? { se: num(r.se)! } : {}) }));
      out.push(ctx.charts.place(mapSpec(cells, { title: `${method}: phi per patch`, diverging: true }), `${esc(f)}: hover a patch for its Shapley value and standard error.`));
    } else if (t.columns.every((c) => /^x\d+$/.test(c))) {
      t.rows.forEach((r, i) => t.columns.forEach((c, j) => cells.push({ row: i, col: j, value: num(r[c]) ?? 0 })));
      out.push(ctx.charts.place(mapSpec(cells, { title: `${method}: map cells`, diverging: false }), `${esc(f)}: hover a cell for its value.`));
    }
  }
  return out;
}

/** Sentences drawn at most in the token section (the rest are in attributions.csv). */
const SENTENCE_CAP = 40;

const tokenSection: SectionDef = {
  id: 'tokens',
  title: 'Token attributions',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const t = await readTable(run, 'attributions.csv');
      if (!t || !['sentence_id', 'token_index', 'token', 'method', 'value'].every((c) => t.columns.includes(c))) return null;
      const sentences = await readTable(run, 'sentences.csv');
      const ids = [...new Set(t.rows.map((r) => String(r.sentence_id)))];
      const parts: string[] = [];
      for (const id of ids.slice(0, SENTENCE_CAP)) {
        const cells: TokenCell[] = t.rows.filter((r) => String(r.sentence_id) === id).map((r) => ({
          position: num(r.token_index) ?? 0, token: String(r.token), method: String(r.method), value: num(r.value) ?? 0, ...(num(r.se) !== null ? { se: num(r.se)! } : {}),
        }));
        const info = sentences?.rows.filter((r) => String(r.sentence_id) === id) ?? [];
        const first = info[0];
        const head = first ? `${id}: P(positive) ${fmt(first.p_positive)}, predicted ${fmt(first.predicted)}, explained ${fmt(first.explained)}` : id;
        const gaps = info.filter((r) => r.gap !== '' && r.gap !== undefined).map((r) => `${r.method} efficiency gap ${fmt(r.gap)}`);
        parts.push(`<h3>${esc(head)}</h3>${ctx.charts.place(tokenSpec(cells), gaps.length ? esc(gaps.join('; ')) : undefined)}`);
      }
      const more = ids.length > SENTENCE_CAP ? `<p class="note">The first ${SENTENCE_CAP} of ${ids.length} sentences; attributions.csv has them all.</p>` : '';
      return `<p class="note">Each word coloured by its attribution to the explained class's log-odds (red for, blue against); hover a word for its value and standard error.</p>${parts.join('')}${more}`;
    });
    return perRun(ctx, blocks);
  },
};

/** Image files shown elsewhere or not explanation pictures. */
const NOT_GALLERY = /^(errors|curves|confusion)\.png$|^embed-.*\.png$/;

const explanationSection: SectionDef = {
  id: 'explanations',
  title: 'Explanations',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      // explain-text's sentence pictures are drawn interactively in the token section
      const tokensDrawn = run.files.includes('attributions.csv');
      const pngs = run.files.filter((f) => f.endsWith('.png') && !f.includes('/') && !NOT_GALLERY.test(f) && !(tokensDrawn && /^sentence-/.test(f)));
      if (pngs.length === 0) return null;
      const images = Array.isArray(run.record.images) ? (run.record.images as Record<string, unknown>[]) : [];
      const parts: string[] = [];
      for (const f of pngs) {
        const stem = f.split('.')[0];
        const img = images.find((i) => typeof i.image === 'string' && path.basename(i.image, path.extname(i.image)) === stem);
        const uri = await fileDataUri(run, f);
        if (!uri) continue;
        const numbers = img ? imageNumbers(img) : {};
        const table = Object.keys(numbers).length > 0
          ? `<table class="kv">${Object.entries(numbers).map(([k, v]) => `<tr><td>${esc(k)}</td><td class="${typeof v === 'number' ? 'num' : ''}">${esc(fmt(v))}</td></tr>`).join('')}</table>`
          : '';
        const maps = await mapCharts(ctx, run, stem);
        parts.push(`<h3>${esc(f)}</h3><div class="row gallery"><figure><img alt="${esc(f)}" src="${uri}"></figure><div>${table}${maps.length ? `<div class="row">${maps.join('')}</div>` : ''}</div></div>`);
      }
      return parts.length > 0 ? parts.join('') : null;
    });
    return perRun(ctx, blocks);
  },
};

const filesSection: SectionDef = {
  id: 'files',
  title: 'Files',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const recorded = (run.record.files && typeof run.record.files === 'object' ? run.record.files : {}) as Record<string, { bytes?: number; sha256?: string }>;
      const rows = await Promise.all(run.files.map(async (f) => {
        const st = await fsp.stat(path.join(run.dir, f)).catch(() => undefined);
        const sha = recorded[f]?.sha256;
        return `<tr><td>${esc(f)}</td><td class="num">${st ? esc(formatBytes(st.size)) : '-'}</td><td><code>${sha ? esc(sha.slice(0, 12)) : ''}</code></td></tr>`;
      }));
      return `<p class="note">${esc(run.dir)}${run.recordFile ? `, record ${esc(run.recordFile)}` : ', no run record found'}</p><details><summary>${run.files.length} files</summary><table><tr><th>file</th><th>size</th><th>SHA-256 (run record)</th></tr>${rows.join('')}</table></details>`;
    });
    return perRun(ctx, blocks);
  },
};

/** Every section, in page order. A new kind of output is one more entry here. */
export const SECTIONS: readonly SectionDef[] = [
  resultsSection, curvesSection, confusionSection, misclassifiedSection, projectionSection,
  faithfulnessSection, tokenSection, explanationSection, settingsSection, filesSection,
];

/** One line on a run for the page's summary. */
export function describeRun(run: RunFolder): string {
  const r = resultsOf(run);
  const bits: string[] = [];
  const pct = (k: string, name: string) => {
    if (num(r[k]) !== null) bits.push(`${name} ${(100 * (r[k] as number)).toFixed(2)}%`);
  };
  pct('testAccuracy', 'test accuracy');
  pct('devAccuracy', 'dev accuracy');
  if (num(r.epochs) !== null) bits.push(`${r.epochs} epoch${r.epochs === 1 ? '' : 's'}`);
  if (num(pick(run.record, 'settings', 'epochs')) !== null && num(r.epochs) === null) bits.push(`${pick(run.record, 'settings', 'epochs')} epochs`);
  if (num(r.images) !== null) bits.push(`${r.images} images`);
  const secs = num(r.wallSeconds) ?? num(r.seconds);
  if (secs !== null) bits.push(`${secs.toFixed(1)} s`);
  return `<b>${esc(run.command)}</b> in <code>${esc(run.dir)}</code>${bits.length ? `: ${esc(bits.join(', '))}` : ''}`;
}
