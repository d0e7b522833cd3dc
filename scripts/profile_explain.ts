/**
 * Where the time of one explainer goes, kernel by kernel (tf.profile): the evidence behind the
 * bench rows of scripts/bench_explain.ts. Uses the same random-init ResNet-18 (buildResnet18) and a
 * random input; the kernel mix does not depend on the weights.
 *
 *   node dist/scripts/profile_explain.js ig|scorecam|gradcam [--batch 16] [--top 15]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import { GradCam } from '../src/explain/grad_cam.js';
import { ScoreCam } from '../src/explain/score_cam.js';
import { IntegratedGradients } from '../src/explain/integrated_gradients.js';

const args = process.argv.slice(2);
const method = args[0] ?? 'ig';
const arg = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const batch = arg('--batch', 16);
const top = arg('--top', 15);

const backend = await initBackend();
process.stderr.write(`${backend.name}, native kernels: ${backend.nativeKernels.join(', ')}\n`);
const model = buildResnet18();
const input = tf.randomNormal([1, 224, 224, 3]) as tf.Tensor4D;
const baseline = tf.zerosLike(input);
const run = () => {
  if (method === 'ig') new IntegratedGradients(model, { steps: batch - 1, batch }).explain(input, baseline, 3); // one batch of path points
  else if (method === 'scorecam') new ScoreCam(model, { layer: 'layer4.1', batch }).compute(input, [3]);
  else new GradCam(model, { layer: 'layer4.1' }).compute(input, [3]);
};
run(); // warm-up
const t0 = performance.now();
const info = await tf.profile(run);
const wall = performance.now() - t0;
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  e.n += 1;
  byKernel.set(k.name, e);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log(`${method}, batch ${batch}: wall ${(wall / 1000).toFixed(2)} s, kernels ${(total / 1000).toFixed(2)} s (${info.kernels.length} calls)`);
for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
  console.log(`${name.padEnd(24)} ${(e.ms / 1000).toFixed(3).padStart(7)} s  ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.n} calls`);
}
