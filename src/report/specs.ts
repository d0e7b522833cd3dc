/**
 * Vega-Lite specifications of the report's charts, as plain objects built from plain rows. Each
 * builder also says which marks the chart must draw (`expect`), computed from the same rows, so
 * that a browser test can count them in the rendered SVG.
 */

/** A chart of the page: where it goes, its spec, and the marks it must render. */
export interface Chart {
  spec: Record<string, unknown>;
  /** Mark items the rendered SVG must hold, by Vega mark type: `{ symbol: 2000 }` (exact counts). */
  expect: Record<string, number>;
  /** What the chart shows, for the page's markup and its tests: 'projection' for scatter plots with hover tooltips. */
  kind?: string;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** Shared look: no border, readable fonts. */
export const CONFIG = {
  view: { stroke: null },
  font: FONT,
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.5 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 13, anchor: 'start' },
};

function base(extra: Record<string, unknown>): Record<string, unknown> {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, ...extra };
}

/** One point of a learning curve: `metric` loss or accuracy of `split` (train, val, dev) after `epoch`. */
export interface CurvePoint {
  run: string;
  epoch: number;
  metric: 'loss' | 'accuracy';
  split: string;
  value: number;
}

/**
 * Loss and accuracy per epoch, one panel each; lines per split (and per run, dashed by split,
 * when several runs share the chart). Points carry the exact numbers in their tooltips.
 */
export function learningCurvesSpec(points: CurvePoint[], runs: number): Chart {
  const series = new Set(points.map((p) => `${p.metric}|${p.split}|${p.run}`)).size;
  const colour = runs > 1 ? { field: 'run', type: 'nominal', title: 'run' } : { field: 'split', type: 'nominal', title: 'split' };
  return {
    spec: base({
      data: { values: points },
      facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['loss', 'accuracy'] } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 300,
        height: 200,
        mark: { type: 'line', point: { size: 40 }, strokeWidth: 2 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false } },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          color: colour,
          strokeDash: runs > 1 ? { field: 'split', type: 'nominal', title: 'split' } : { value: [] },
          detail: { field: 'run' },
          tooltip: [
            ...(runs > 1 ? [{ field: 'run' }] : []),
            { field: 'epoch' }, { field: 'split' }, { field: 'metric' }, { field: 'value', format: '.4f' },
          ],
        },
      },
    }),
    expect: { symbol: points.length, line: series },
  };
}

/** One cell of a confusion matrix. */
export interface ConfusionCell {
  truth: string;
  predicted: string;
  count: number;
  /** count / row total (0 for an empty row). */
  share: number;
}

/** A confusion-matrix heatmap of counts or row shares, the number written in each cell. */
export function confusionSpec(cells: ConfusionCell[], classes: string[], field: 'count' | 'share', size = 300): Chart {
  const fmt = field === 'share' ? '.2f' : 'd';
  const tooltip = [{ field: 'truth', title: 'true' }, { field: 'predicted' }, { field: 'count', format: 'd' }, { field: 'share', format: '.3f', title: 'row share' }];
  return {
    spec: base({
      data: { values: cells },
      width: size,
      height: size,
      title: field === 'count' ? 'counts' : 'row-normalised (share of each true class)',
      encoding: {
        x: { field: 'predicted', type: 'ordinal', sort: classes, title: 'predicted', axis: { labelAngle: 0 } },
        y: { field: 'truth', type: 'ordinal', sort: classes, title: 'true' },
      },
      layer: [
        {
          mark: 'rect',
          encoding: {
            color: { field, type: 'quantitative', scale: { scheme: 'blues', ...(field === 'share' ? { domain: [0, 1] } : {}) }, legend: null },
            tooltip,
          },
        },
        {
          mark: { type: 'text', fontSize: classes.length > 12 ? 8 : 10 },
          encoding: {
            text: { field, type: 'quantitative', format: fmt },
            color: { condition: { test: `datum.share > 0.5`, value: 'white' }, value: 'black' },
            tooltip, // the number lies on its cell and takes the pointer
          },
        },
      ],
    }),
    expect: { rect: cells.length, text: cells.length },
  };
}

/** One projected point and what its tooltip shows. */
export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
  predicted: string;
  /** 'yes' / 'no' (whether label = predicted), or '' when either is missing. */
  correct: string;
  /** Row of the projected table (features.csv, embed-*.csv index). */
  index: number;
  /** Tooltip heading: the sentence (vega-tooltip shows `title` as a heading). */
  title?: string;
  /** Tooltip image: a data: URI (vega-tooltip shows `image` as a picture). */
  image?: string;
  probability?: number | null;
}

/**
 * A projection as a scatter plot: drag to pan, wheel to zoom (an interval selection bound to the
 * scales), a radio button to colour by true label, by prediction or by correctness; the tooltip
 * shows the sentence (`title`) or the digit (`image`) with the labels.
 */
export function scatterSpec(points: ScatterPoint[], opts: { title: string; size?: number; colourBy?: string }): Chart {
  const withProbability = points.some((p) => typeof p.probability === 'number');
  const tooltip: Record<string, unknown>[] = [];
  if (points.some((p) => p.title)) tooltip.push({ field: 'title', title: 'title' });
  if (points.some((p) => p.image)) tooltip.push({ field: 'image', title: 'image' });
  tooltip.push({ field: 'label', title: 'gold label' }, { field: 'predicted', title: 'predicted' });
  if (withProbability) tooltip.push({ field: 'probability', title: 'P(positive)', format: '.3f' });
  tooltip.push({ field: 'index', title: 'row' });
  const size = opts.size ?? 440;
  return {
    spec: base({
      title: opts.title,
      data: { values: points },
      width: size,
      height: Math.round(size * 0.85),
      params: [
        { name: 'zoom', select: 'interval', bind: 'scales' },
        { name: 'colourBy', value: opts.colourBy ?? 'label', bind: { input: 'radio', options: ['label', 'predicted', 'correct'], name: 'colour by ' } },
      ],
      transform: [{ calculate: "colourBy === 'predicted' ? datum.predicted : colourBy === 'correct' ? datum.correct : datum.label", as: 'colour' }],
      mark: { type: 'point', filled: true, size: 22, opacity: 0.75 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: null, scale: { zero: false }, axis: { labels: false, ticks: false } },
        y: { field: 'y', type: 'quantitative', title: null, scale: { zero: false }, axis: { labels: false, ticks: false } },
        color: { field: 'colour', type: 'nominal', title: null, scale: { scheme: 'tableau10' } },
        tooltip,
      },
    }),
    expect: { symbol: points.length },
    kind: 'projection',
  };
}

/**
 * Distinct colours for up to 14 methods (Tableau 10, then four darker ones); the random baseline
 * is always grey. Tableau 20 would pair look-alike shades (gradcam/ig both blue).
 */
const METHOD_PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#393b79', '#8c6d31', '#637939', '#7b4173', '#17becf'];

/** The colour scale of methods: fixed colours in the order given, 'random' grey. */
export function methodColours(methods: readonly string[]): Record<string, unknown> {
  const named = methods.filter((m) => m !== 'random');
  const domain = [...named, ...(methods.includes('random') ? ['random'] : [])];
  const range = [...named.map((_, i) => METHOD_PALETTE[i % METHOD_PALETTE.length]), ...(methods.includes('random') ? ['#9e9e9e'] : [])];
  return { domain, range };
}

/** Mean probability on a deletion or insertion curve; lo/hi the band (mean -/+ one standard error) when known. */
export interface FaithfulnessPoint {
  run: string;
  method: string;
  curve: string;
  fraction: number;
  probability: number;
  lo?: number;
  hi?: number;
}

/** Deletion and insertion curves side by side, a line per method, standard-error bands where the CSV has them. */
export function faithfulnessSpec(points: FaithfulnessPoint[], runs: number): Chart {
  const bands = points.some((p) => typeof p.lo === 'number');
  const series = new Set(points.map((p) => `${p.run}|${p.method}|${p.curve}`)).size;
  const colour = { field: 'method', type: 'nominal', scale: methodColours([...new Set(points.map((p) => p.method))]) };
  const layers: Record<string, unknown>[] = [];
  if (bands) {
    layers.push({
      mark: { type: 'area', opacity: 0.18 },
      encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: colour, detail: { field: 'run' } },
    });
  }
  layers.push({
    mark: { type: 'line', strokeWidth: 1.8 },
    encoding: {
      y: { field: 'probability', type: 'quantitative', title: 'mean probability of the class' },
      color: colour,
    },
  });
  layers.push({
    // invisible points: the tooltips with the exact numbers
    mark: { type: 'point', opacity: 0, size: 60 },
    encoding: {
      y: { field: 'probability', type: 'quantitative' },
      tooltip: [...(runs > 1 ? [{ field: 'run' }] : []), { field: 'method' }, { field: 'curve' }, { field: 'fraction', format: '.3f', title: 'pixels removed/added' },
        { field: 'probability', format: '.4f', title: 'mean probability' }, ...(bands ? [{ field: 'lo', format: '.4f', title: '- 1 s.e.' }, { field: 'hi', format: '.4f', title: '+ 1 s.e.' }] : [])],
    },
  });
  return {
    spec: base({
      data: { values: points },
      // several runs: one row of panels per run, the same methods in the same colours
      facet: { column: { field: 'curve', type: 'nominal', title: null, sort: ['deletion', 'insertion'] }, ...(runs > 1 ? { row: { field: 'run', type: 'nominal', title: null, sort: [...new Set(points.map((p) => p.run))] } } : {}) },
      spec: {
        width: 320,
        height: 240,
        encoding: { x: { field: 'fraction', type: 'quantitative', title: 'fraction of pixels', scale: { domain: [0, 1] } } },
        layer: layers,
      },
    }),
    expect: { line: series, symbol: points.length, ...(bands ? { area: series } : {}) },
  };
}

/** One method's AUC on one curve with its standard error. */
export interface AucPoint {
  run: string;
  method: string;
  curve: string;
  auc: number;
  se: number;
}

/** AUC per method with +-1 standard error bars, deletion and insertion side by side. */
export function aucSpec(points: AucPoint[], runs: number): Chart {
  const withBounds = points.map((p) => ({ ...p, lo: p.auc - p.se, hi: p.auc + p.se }));
  const y = { field: 'method', type: 'nominal', title: null, sort: null };
  const scale = methodColours([...new Set(points.map((p) => p.method))]);
  return {
    spec: base({
      data: { values: withBounds },
      facet: { column: { field: 'curve', type: 'nominal', title: null, sort: ['deletion', 'insertion'] }, ...(runs > 1 ? { row: { field: 'run', type: 'nominal', title: null, sort: [...new Set(points.map((p) => p.run))] } } : {}) },
      resolve: { scale: { x: 'independent' } },
      spec: {
        width: 260,
        height: { step: 16 },
        layer: [
          { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y, x: { field: 'lo', type: 'quantitative', title: 'AUC (+-1 s.e.)', scale: { zero: false } }, x2: { field: 'hi' }, color: { field: 'method', type: 'nominal', scale, legend: null } } },
          {
            mark: { type: 'point', filled: true, size: 50 },
            encoding: {
              y, x: { field: 'auc', type: 'quantitative' }, color: { field: 'method', type: 'nominal', scale, legend: null },
              tooltip: [...(runs > 1 ? [{ field: 'run' }] : []), { field: 'method' }, { field: 'curve' }, { field: 'auc', format: '.4f', title: 'AUC' }, { field: 'se', format: '.4f', title: 's.e.' }],
            },
          },
        ],
      },
    }),
    expect: { rule: points.length, symbol: points.length },
  };
}

/** One cell of an explanation map: a Shapley patch or a CAM cell. */
export interface MapCell {
  row: number;
  col: number;
  value: number;
  /** Standard error of a sampled Shapley value. */
  se?: number;
}

/** A per-patch (Shapley) or per-cell (CAM) map as a heatmap; hover a cell for its value. */
export function mapSpec(cells: MapCell[], opts: { title: string; diverging: boolean; size?: number }): Chart {
  const maxAbs = Math.max(1e-12, ...cells.map((c) => Math.abs(c.value)));
  const rows = Math.max(...cells.map((c) => c.row)) + 1;
  const cols = Math.max(...cells.map((c) => c.col)) + 1;
  const size = opts.size ?? 180;
  return {
    spec: base({
      title: opts.title,
      data: { values: cells },
      width: size,
      height: Math.round((size * rows) / cols),
      mark: { type: 'rect', stroke: 'white', strokeWidth: cols > 12 ? 0 : 0.5 },
      encoding: {
        x: { field: 'col', type: 'ordinal', axis: null },
        y: { field: 'row', type: 'ordinal', axis: null },
        color: opts.diverging
          ? { field: 'value', type: 'quantitative', scale: { scheme: 'redblue', reverse: true, domain: [-maxAbs, maxAbs] }, title: null }
          : { field: 'value', type: 'quantitative', scale: { scheme: 'inferno' }, title: null },
        tooltip: [{ field: 'row' }, { field: 'col' }, { field: 'value', format: '.5f', title: opts.diverging ? 'phi' : 'value' }, ...(cells.some((c) => c.se !== undefined) ? [{ field: 'se', format: '.5f', title: 's.e.' }] : [])],
      },
    }),
    expect: { rect: cells.length },
  };
}

/** One token's attribution by one method. */
export interface TokenCell {
  position: number;
  token: string;
  method: string;
  value: number;
  se?: number;
}

/**
 * A sentence's tokens left to right, one row per method, each cell coloured by the token's
 * attribution (red for the explained class, blue against) with the word written in it; hover a
 * word for its value and standard error.
 */
export function tokenSpec(cells: TokenCell[]): Chart {
  const maxAbs = Math.max(1e-12, ...cells.map((c) => Math.abs(c.value)));
  const withSe = cells.some((c) => c.se !== undefined);
  // each word's cell as wide as the word (about 6.5 px a character at 11 px), left to right
  const positions = [...new Set(cells.map((c) => c.position))].sort((a, b) => a - b);
  const tokenOf = new Map(cells.map((c) => [c.position, c.token]));
  const left = new Map<number, [number, number]>();
  let x = 0;
  for (const p of positions) {
    const w = Math.max(16, 6.5 * Math.min(tokenOf.get(p)!.length, 18) + 10);
    left.set(p, [x, x + w]);
    x += w;
  }
  const tooltip = [{ field: 'token' }, { field: 'method' }, { field: 'value', format: '.4f' }, ...(withSe ? [{ field: 'se', format: '.4f', title: 's.e.' }] : []), { field: 'position', title: 'token #' }];
  const values = cells.map((c) => ({ ...c, x0: left.get(c.position)![0], x1: left.get(c.position)![1], xm: (left.get(c.position)![0] + left.get(c.position)![1]) / 2, shade: Math.abs(c.value) / maxAbs }));
  return {
    spec: base({
      data: { values },
      width: Math.max(60, x),
      height: { step: 20 },
      encoding: { y: { field: 'method', type: 'nominal', title: null, sort: null } },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: {
            x: { field: 'x0', type: 'quantitative', scale: null, axis: null },
            x2: { field: 'x1' },
            color: { field: 'value', type: 'quantitative', scale: { scheme: 'redblue', reverse: true, domain: [-maxAbs, maxAbs] }, title: 'value' },
            tooltip,
          },
        },
        {
          mark: { type: 'text', fontSize: 11, limit: 6.5 * 18 },
          encoding: {
            x: { field: 'xm', type: 'quantitative', scale: null },
            text: { field: 'token' },
            color: { condition: { test: 'datum.shade > 0.6', value: 'white' }, value: 'black' },
            tooltip, // the word lies on its cell and takes the pointer
          },
        },
      ],
    }),
    expect: { rect: cells.length, text: cells.length },
    kind: 'tokens',
  };
}
