/**
 * The projection scatter plot as a Vega-Lite spec: one point per sample, coloured by its true
 * label, misclassified samples drawn as crosses on top (when predictions are given).
 */
import type { VegaLiteSpec } from '../core/plot.js';

export interface ScatterInput {
  /** [n * 2] row-major 2-D coordinates. */
  coords: ArrayLike<number>;
  labels?: (string | number)[];
  predicted?: (string | number)[];
  title: string;
  /** Lines under the title. */
  subtitle?: string[];
  xTitle: string;
  yTitle: string;
  /** 'equal': one scale for both axes; 'hidden': no axis values (they mean nothing); default: independent scales. */
  axes?: 'equal' | 'hidden';
}

const WIDTH = 520;
const HEIGHT = 440;

/**
 * Domains for x and y with the same data units per pixel on both axes, each centred on its data
 * range (a component with 2% of the variance is drawn 2% as wide, not as wide as the first).
 */
export function equalScaleDomains(coords: ArrayLike<number>, width = WIDTH, height = HEIGHT): { x: [number, number]; y: [number, number] } {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < coords.length; i += 2) {
    x0 = Math.min(x0, coords[i]);
    x1 = Math.max(x1, coords[i]);
    y0 = Math.min(y0, coords[i + 1]);
    y1 = Math.max(y1, coords[i + 1]);
  }
  // units per pixel, with a 5% margin; a single point gets a unit square
  const perPixel = 1.05 * Math.max((x1 - x0) / width, (y1 - y0) / height) || 1 / Math.min(width, height);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return { x: [cx - (perPixel * width) / 2, cx + (perPixel * width) / 2], y: [cy - (perPixel * height) / 2, cy + (perPixel * height) / 2] };
}

/** Builds the scatter spec (pure: no files). */
export function scatterSpec(input: ScatterInput): VegaLiteSpec {
  const n = input.coords.length / 2;
  const values = Array.from({ length: n }, (_, i) => {
    const label = input.labels ? String(input.labels[i]) : 'all';
    const wrong = input.predicted ? String(input.predicted[i]) !== label : false;
    return { x: input.coords[2 * i], y: input.coords[2 * i + 1], label, outcome: wrong ? 'misclassified' : 'correct', order: wrong ? 1 : 0 };
  });
  const classes = [...new Set(values.map((v) => v.label))].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
  });
  const domains = input.axes === 'equal' ? equalScaleDomains(input.coords) : undefined;
  const axis = (d?: [number, number]) => ({
    scale: d ? { zero: false, nice: false, domain: d } : { zero: false, nice: true },
    ...(input.axes === 'hidden' ? { axis: { labels: false, ticks: false, grid: false } } : {}),
  });
  const encoding: Record<string, unknown> = {
    x: { field: 'x', type: 'quantitative', title: input.xTitle, ...axis(domains?.x) },
    y: { field: 'y', type: 'quantitative', title: input.yTitle, ...axis(domains?.y) },
    color: {
      field: 'label', type: 'nominal', title: input.labels ? 'true label' : 'points',
      scale: { domain: classes, scheme: classes.length <= 10 ? 'category10' : 'tableau20' },
    },
    order: { field: 'order', type: 'quantitative' },
  };
  if (input.predicted) {
    encoding.shape = {
      field: 'outcome', type: 'nominal', title: 'prediction',
      scale: { domain: ['correct', 'misclassified'], range: ['circle', 'cross'] },
    };
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: input.title, ...(input.subtitle ? { subtitle: input.subtitle } : {}) },
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'point', filled: true, opacity: 0.7, size: 22 },
    encoding,
  };
}
