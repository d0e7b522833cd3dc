/** Evaluation of an MNIST classifier: loss, accuracy, confusion matrix, misclassified digits. */
import * as tf from '@tensorflow/tfjs';
import { makeBatch, MNIST_CLASSES, type MnistSplit } from './data.js';

export interface Misclassified {
  /** Index in the split. */
  index: number;
  label: number;
  predicted: number;
  /** Probability the model gave its (wrong) prediction. */
  probability: number;
}

export interface Evaluation {
  /** Mean cross-entropy. */
  loss: number;
  accuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  errors: Misclassified[];
  count: number;
}

const EVAL_BATCH = 1000;

/** Evaluates `model` (softmax output) on the examples `idx` of `split`, in batches. */
export function evaluateModel(model: tf.LayersModel, split: MnistSplit, idx: number[]): Evaluation {
  const confusion = Array.from({ length: MNIST_CLASSES }, () => new Array<number>(MNIST_CLASSES).fill(0));
  const errors: Misclassified[] = [];
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < idx.length; start += EVAL_BATCH) {
    const chunk = idx.slice(start, start + EVAL_BATCH);
    const probs = tf.tidy(() => {
      const { x, y } = makeBatch(split, chunk);
      y.dispose();
      return (model.predict(x) as tf.Tensor2D);
    });
    const p = probs.dataSync() as Float32Array;
    probs.dispose();
    for (let i = 0; i < chunk.length; i++) {
      const label = split.labels[chunk[i]];
      let best = 0;
      for (let c = 1; c < MNIST_CLASSES; c++) if (p[i * MNIST_CLASSES + c] > p[i * MNIST_CLASSES + best]) best = c;
      lossSum += -Math.log(Math.max(p[i * MNIST_CLASSES + label], 1e-7));
      confusion[label][best] += 1;
      if (best === label) correct += 1;
      else errors.push({ index: chunk[i], label, predicted: best, probability: p[i * MNIST_CLASSES + best] });
    }
  }
  return { loss: lossSum / idx.length, accuracy: correct / idx.length, confusion, errors, count: idx.length };
}
