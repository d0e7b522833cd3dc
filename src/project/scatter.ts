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
  const encoding: Record<string, unknown> = {
    x: { field: 'x', type: 'quantitative', title: input.xTitle, scale: { zero: false, nice: true } },
    y: { field: 'y', type: 'quantitative', title: input.yTitle, scale: { zero: false, nice: true } },
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
    width: 520,
    height: 440,
    data: { values },
    mark: { type: 'point', filled: true, opacity: 0.7, size: 22 },
    encoding,
  };
}
