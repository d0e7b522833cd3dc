/** Worker-thread entry for the parallel k-NN search (see knnAll in knn.ts). */
import { workerData } from 'node:worker_threads';
import { buildKdTree, markFailed, runChunks } from './knn.js';

const ctrl = new Int32Array(workerData.ctrl);
try {
  const tree = buildKdTree(new Float64Array(workerData.coords), workerData.n, workerData.dim);
  runChunks(tree, workerData.k, new Int32Array(workerData.indices), new Float64Array(workerData.distances), ctrl);
} catch (e) {
  markFailed(ctrl);
  throw e;
}
