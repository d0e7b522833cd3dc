/** The figures of train-mnist: learning curves, confusion heatmap, misclassified digits. */
import { writeChart } from '../core/plot.js';
import { encodePng, svgToPng } from '../core/image.js';
import { writeFileAtomic } from '../core/fsutil.js';
import type { MnistSplit } from './data.js';
import type { Misclassified } from './evaluate.js';
import type { EpochMetrics } from '../core/run_record.js';

const base = (pngPath: string) => pngPath.replace(/\.png$/, '');

/** Loss and accuracy per epoch, training vs validation, two panels. */
export async function writeCurvesPng(file: string, history: EpochMetrics[]): Promise<void> {
  const rows = history.flatMap((h) => [
    { epoch: h.epoch, metric: 'loss', split: 'training', value: h.loss },
    { epoch: h.epoch, metric: 'accuracy', split: 'training', value: h.acc },
    ...(h.val_loss !== null ? [
      { epoch: h.epoch, metric: 'loss', split: 'validation', value: h.val_loss },
      { epoch: h.epoch, metric: 'accuracy', split: 'validation', value: h.val_acc },
    ] : []),
  ]);
  const panel = (metric: string, title: string) => ({
    title,
    width: 320,
    height: 220,
    transform: [{ filter: `datum.metric === '${metric}'` }],
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
      color: { field: 'split', type: 'nominal', title: 'data', scale: { range: ['#1f77b4', '#ff7f0e'] } },
    },
  });
  await writeChart(base(file), {
    title: { text: 'MNIST CNN learning curves', fontSize: 16 },
    data: { values: rows },
    hconcat: [panel('loss', 'Cross-entropy loss'), panel('accuracy', 'Accuracy')],
  });
}

/** Confusion matrix heatmap (true digit vs predicted digit), counts printed in the cells. */
export async function writeConfusionPng(file: string, confusion: number[][], accuracy: number): Promise<void> {
  const rows = confusion.flatMap((r, t) => r.map((count, p) => ({ true: t, predicted: p, count })));
  const max = Math.max(...rows.map((r) => r.count));
  await writeChart(base(file), {
    title: { text: `MNIST test confusion matrix (accuracy ${(accuracy * 100).toFixed(2)}%)`, fontSize: 15 },
    data: { values: rows },
    width: 380,
    height: 380,
    encoding: {
      x: { field: 'predicted', type: 'ordinal', title: 'predicted digit', axis: { labelAngle: 0 } },
      y: { field: 'true', type: 'ordinal', title: 'true digit' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'count', type: 'quantitative', title: 'count', scale: { type: 'symlog', scheme: 'blues' } } } },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${max / 8}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  });
}

/** A grid of misclassified test digits labelled "true -> predicted (probability)". */
export async function writeErrorsPng(file: string, split: MnistSplit, errors: Misclassified[], maxShown = 40): Promise<void> {
  const shown = errors.slice().sort((a, b) => b.probability - a.probability).slice(0, maxShown);
  const cols = 8;
  const scale = 3;
  const cell = split.cols * scale;
  const cellW = cell + 24;
  const cellH = cell + 34;
  const rowsN = Math.max(1, Math.ceil(shown.length / cols));
  const width = cols * cellW + 20;
  const height = rowsN * cellH + 60;
  const parts: string[] = [];
  for (let i = 0; i < shown.length; i++) {
    const e = shown[i];
    const px = split.rows * split.cols;
    const up = new Uint8Array(cell * cell * 3);
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const v = 255 - Math.round(255 * split.images[e.index * px + Math.floor(y / scale) * split.cols + Math.floor(x / scale)]);
        up.fill(v, (y * cell + x) * 3, (y * cell + x) * 3 + 3);
      }
    }
    const png = (await encodePng(up, cell, cell)).toString('base64');
    const gx = 10 + (i % cols) * cellW + 12;
    const gy = 50 + Math.floor(i / cols) * cellH;
    parts.push(`<image x="${gx}" y="${gy}" width="${cell}" height="${cell}" href="data:image/png;base64,${png}"/>`);
    parts.push(`<rect x="${gx}" y="${gy}" width="${cell}" height="${cell}" fill="none" stroke="#999"/>`);
    parts.push(`<text x="${gx + cell / 2}" y="${gy + cell + 14}" text-anchor="middle" font-size="12">${e.label} → <tspan fill="#c0392b" font-weight="bold">${e.predicted}</tspan> (${(e.probability * 100).toFixed(0)}%)</text>`);
  }
  const title = shown.length === 0 ? 'No misclassified test digits'
    : `Misclassified test digits: true → predicted (confidence); ${shown.length} of ${errors.length}, most confident first`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="15" font-weight="bold">${title}</text>${parts.join('')}</svg>`;
  await writeFileAtomic(file, await svgToPng(svg, 96));
}
