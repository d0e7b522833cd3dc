/**
 * The worker-thread side of `train-mnist --workers N`: one replica of the MNIST CNN on its own
 * backend (wasm + dnnkit's kernels + the native addon, which keeps its oneDNN state per thread),
 * answering one request per training step with the gradients of its rows (replica.ts). Its
 * Math.random (dropout masks) is its own seeded stream, whose state the checkpoint saves.
 */
import { workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend, requestThreads } from '../core/backend.js';
import { monotonicMs, serveRequests } from '../core/data_parallel.js';
import { createRng } from '../core/rng.js';
import { MNIST_CLASSES } from './data.js';
import { buildMnistCnn } from './model.js';
import { flatten, setWeightsFlat, shardGradients, trainableVariables } from './replica.js';
import type { ReplicaInit, ReplicaReply, ReplicaRequest } from './parallel.js';

const init = workerData as ReplicaInit;

const ready = (async () => {
  requestThreads(init.threads);
  await initBackend(init.backend);
  // The weights are set from the main thread before every step: the initialiser's values do not matter.
  const model = buildMnistCnn(init.model);
  const rng = createRng(0);
  rng.setState(init.randomState);
  Math.random = rng.next;
  return { model, rng };
})();

serveRequests<ReplicaRequest, ReplicaReply>(async (req) => {
  const received = monotonicMs();
  const { model, rng } = await ready;
  if (req.kind === 'ready') return { reply: { kind: 'ready', backend: tf.getBackend() } };
  if (req.kind === 'randomState') return { reply: { kind: 'randomState', state: rng.getState() } };
  if (req.kind === 'tensors') return { reply: { kind: 'tensors', count: tf.memory().numTensors } };
  setWeightsFlat(model, req.weights);
  const [, rows, cols] = model.inputs[0].shape as number[];
  const x = tf.tensor4d(req.xs, [req.rows, rows, cols, 1]);
  const y = tf.tensor2d(req.ys, [req.rows, MNIST_CLASSES]);
  const shard = shardGradients(model, x, y, req.total);
  x.dispose();
  y.dispose();
  const ordered = trainableVariables(model).map((v) => shard.grads[v.name]);
  const grads = flatten(ordered);
  tf.dispose(shard.grads);
  return { reply: { kind: 'step', grads, lossSum: shard.lossSum, correct: shard.correct, tensors: tf.memory().numTensors, received, done: monotonicMs() }, transfer: [grads.buffer as ArrayBuffer] };
});
