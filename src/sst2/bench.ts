/**
 * Training speed of the fused LSTM (model.ts + lstm_cell.ts) against tfjs-layers' LSTM on the
 * same shapes (the NOTES.md case: vocabulary 15,000, embedding 128, 128 units, length 50,
 * batch 64). Reports sentences per second of wall time and of this process's CPU time (the
 * machine is shared, so CPU time is the steadier number).
 *
 *   node dist/src/sst2/bench.js [--steps N] [--backend wasm|cpu|node]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../core/backend.js';
import { createRng } from '../core/rng.js';
import { LstmSentimentClassifier } from './model.js';

export interface BenchResult {
  name: string;
  sentencesPerSecond: number;
  sentencesPerCpuSecond: number;
  msPerStep: number;
}

const SHAPES = { vocab: 15_000, embedding: 128, units: 128, time: 50, batch: 64 };

async function timeSteps(name: string, steps: number, step: () => Promise<void>): Promise<BenchResult> {
  await step(); // warm-up: kernel setup, optimizer slots
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const n = steps * SHAPES.batch;
  return { name, sentencesPerSecond: n / wall, sentencesPerCpuSecond: n / cpuSec, msPerStep: (1000 * wall) / steps };
}

export async function benchLstm(steps: number, backend?: BackendName): Promise<BenchResult[]> {
  const info = await initBackend(backend);
  const rng = createRng(1);
  const { vocab, embedding, units, time, batch } = SHAPES;
  const ids = tf.tensor2d(Int32Array.from({ length: batch * time }, () => 2 + rng.int(vocab - 2)), [batch, time], 'int32');
  const labels = tf.tensor1d(Array.from({ length: batch }, () => rng.int(2)), 'float32');
  const results: BenchResult[] = [];

  const fused = new LstmSentimentClassifier({ vocabSize: vocab, embeddingDim: embedding, units, layers: 1, bidirectional: false, dropout: 0 }, 1);
  const adam = tf.train.adam(0.001);
  results.push(await timeSteps(`fused LSTM (dnnkit), ${info.name}`, steps, async () => {
    const loss = adam.minimize(() => tf.losses.sigmoidCrossEntropy(labels, fused.forward(ids, { training: true }).logits), true, fused.variables)!;
    await loss.data();
    loss.dispose();
  }));
  adam.dispose();
  fused.dispose();

  const layers = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: vocab, outputDim: embedding, inputLength: time }),
      tf.layers.lstm({ units }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  layers.compile({ optimizer: tf.train.adam(0.001), loss: 'binaryCrossentropy' });
  const idsFloat = ids.toFloat();
  const y = labels.reshape([batch, 1]);
  results.push(await timeSteps(`tf.layers.lstm, ${info.name}`, steps, async () => {
    await layers.trainOnBatch(idsFloat, y);
  }));
  layers.dispose();
  tf.dispose([ids, labels, idsFloat, y]);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const steps = Number(arg('--steps') ?? 5);
  const results = await benchLstm(steps, arg('--backend') as BackendName | undefined);
  for (const r of results) {
    process.stdout.write(`${r.name.padEnd(36)} ${r.sentencesPerSecond.toFixed(0).padStart(6)} sentences/s wall  ${r.sentencesPerCpuSecond.toFixed(0).padStart(6)} per CPU-second  ${r.msPerStep.toFixed(0)} ms/step\n`);
  }
}
