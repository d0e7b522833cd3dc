/** Worker-thread entry for the parallel t-SNE gradient (see tsne_gradient.ts). */
import { workerData } from 'node:worker_threads';
import { runWorker } from './tsne_gradient.js';

runWorker(workerData);
