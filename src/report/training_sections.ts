/** Sections of a trainer's run: learning curves, confusion matrix, misclassified examples. */
import { fileDataUri, readTable, type RunFolder, type Table } from './run_folder.js';
import { eachRun, num, perRun, type SectionDef } from './section.js';
import { confusionSpec, learningCurvesSpec, type ConfusionCell, type CurvePoint } from './specs.js';

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

export const curvesSection: SectionDef = {
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

export const confusionSection: SectionDef = {
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

export const misclassifiedSection: SectionDef = {
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

