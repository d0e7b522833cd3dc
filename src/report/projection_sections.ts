/**
 * The projections section: each embed-<method>.csv as an interactive scatter plot, with the
 * SST-2 sentence or the MNIST digit behind each point in its tooltip.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadTestDigits } from './digits.js';
import { esc } from './html.js';
import { pick, pickFirst, readRunFolder, readTable, type RunFolder, type Table } from './run_folder.js';
import { eachRun, num, perRun, type SectionDef } from './section.js';
import { lookUpSentences, probabilityColumn } from './sentences.js';
import { scatterSpec, type ScatterPoint } from './specs.js';

/** Points drawn per projection at most; larger projections are sampled evenly (the page says so). */
export const POINT_CAP = 2000;

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

export const projectionSection: SectionDef = {
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

