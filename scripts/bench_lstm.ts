/**
 * The LSTM workload of `npm run bench`: dnnkit's SST-2 classifier (src/sst2/model.ts) on the
 * benchmark shapes of the performance issue (vocab 15k, embedding 128, hidden 128, length 50),
 * one Adam step per batch, as the trainer does it. PyTorch's side: scripts/bench_torch.py.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../src/core/rng.js';
import { LstmSentimentClassifier } from '../src/sst2/model.js';

/** Training throughput in samples/s over `steps` batches of `batch` sentences (after 2 warm-up steps). */
export async function benchLstmTrain(steps: number, batch: number, seqLen = 50, vocab = 15000): Promise<number> {
  const model = new LstmSentimentClassifier({ vocabSize: vocab, embeddingDim: 128, units: 128, layers: 1, bidirectional: false, dropout: 0 }, 1);
  const optimizer = tf.train.adam(1e-3);
  const rng = createRng(3);
  const ids = tf.tensor2d(Int32Array.from({ length: batch * seqLen }, () => rng.int(vocab)), [batch, seqLen], 'int32');
  const labels = tf.tensor1d(Float32Array.from({ length: batch }, () => rng.int(2)));
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(labels, model.forward(ids, { training: true, rng }).logits) as tf.Scalar, model.variables);
    optimizer.applyGradients(grads as tf.NamedTensorMap as never);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < 2; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([ids, labels]);
  optimizer.dispose();
  model.dispose();
  return (steps * batch) / seconds;
}
