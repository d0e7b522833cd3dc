/** The figure of a dnnkit sst2 run: learning curves (a Vega-Lite spec, rendered by core/plot.ts). */
import type { EpochMetrics } from '../core/run_record.js';

/** Learning curves: loss and accuracy per epoch, train vs dev, the best epoch marked. */
export function curvesSpec(rows: EpochMetrics<'dev'>[], bestEpoch: number, title: string, perNetwork = false): Record<string, unknown> {
  const values = rows.flatMap((r) => [
    { epoch: r.epoch, split: 'train', metric: 'loss', value: r.loss },
    { epoch: r.epoch, split: 'dev', metric: 'loss', value: r.dev_loss },
    { epoch: r.epoch, split: 'train', metric: 'accuracy', value: r.acc },
    { epoch: r.epoch, split: 'dev', metric: 'accuracy', value: r.dev_acc },
    // Each network's own dev accuracy while it trains (--early-stopping network).
    ...(r.networks ?? []).flatMap((a, k) => (a === null ? [] : [{ epoch: r.epoch, network: k + 1, metric: 'network accuracy', value: a }])),
  ]);
  const panel = (metric: string, yTitle: string) => ({
    title: yTitle,
    width: 320,
    height: 220,
    layer: [
      ...(perNetwork && metric === 'accuracy' ? [{
        transform: [{ filter: "datum.metric === 'network accuracy'" }],
        mark: { type: 'line', color: '#bbbbbb', strokeWidth: 1 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' },
          y: { field: 'value', type: 'quantitative' },
          detail: { field: 'network', type: 'nominal' },
        },
      }] : []),
      {
        transform: [{ filter: `datum.metric === '${metric}'` }],
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
          color: { field: 'split', type: 'nominal', title: 'split', scale: { domain: ['train', 'dev'] } },
        },
      },
      {
        data: { values: [{ epoch: bestEpoch, label: `best dev (epoch ${bestEpoch})` }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: 'gray' },
        encoding: { x: { field: 'epoch', type: 'quantitative' } },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: title,
      subtitle: perNetwork
        ? ['dev: the kept ensemble (each network at its best dev epoch so far); grey: each network alone on dev',
          'dashed line: the last epoch a network improved; train metrics with dropout on']
        : 'dashed line: best dev-accuracy epoch (the kept checkpoint); train metrics with dropout on',
    },
    data: { values },
    hconcat: [panel('loss', 'binary cross-entropy'), panel('accuracy', 'accuracy')],
  };
}

