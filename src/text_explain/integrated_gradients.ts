/**
 * Integrated Gradients over the word vectors (M. Sundararajan, A. Taly and Q. Yan, "Axiomatic
 * Attribution for Deep Networks", ICML 2017), as Captum's LayerIntegratedGradients on an
 * embedding layer:
 *
 *   IG_i = sum_d (x_id - b_id) * int_0^1 dF(b + a (x - b)) / dx_id da
 *
 * x = each network's input vectors of the sentence (word vector plus, with subword vectors, the
 * mean of its n-gram vectors), b = the `<pad>` vector at every position, F = the explained class's
 * log-odds of the whole model (for an ensemble the logit of the members' mean probability, so the
 * input is every network's vectors together and IG_i sums over networks and dimensions). The
 * integral is the trapezoid rule over steps + 1 evenly spaced points; completeness says
 * sum_i IG_i = F(x) - F(b), and the relative gap is reported.
 */
import * as tf from '@tensorflow/tfjs';
import { flattenSubwords } from '../sst2/data.js';
import type { SubwordTensors } from '../sst2/network.js';
import type { Sst2Network } from '../sst2/model.js';
import type { MethodInput, TokenAttribution, TokenMethod } from './method.js';
import { relativeGap } from './method.js';

const emptySubwords = (): SubwordTensors => ({ ids: tf.tensor1d([], 'int32'), positions: tf.tensor1d([], 'int32'), weights: tf.tensor1d([], 'float32') });

/** The explained class's log-odds from the networks' [batch] logits (an ensemble's: of the mean probability). */
function classLogOdds(logits: tf.Tensor1D[], target: 0 | 1): tf.Tensor1D {
  let f: tf.Tensor1D;
  if (logits.length === 1) f = logits[0];
  else {
    const eps = 1e-7; // as EnsembleClassifier.forward
    const p = tf.clipByValue(tf.div(tf.addN(logits.map((l) => tf.sigmoid(l))), logits.length), eps, 1 - eps);
    f = tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
  }
  return target === 1 ? f : tf.neg(f);
}

export const integratedGradients: TokenMethod = {
  name: 'ig',
  label: 'Integrated Gradients',
  help: 'Integrated Gradients over the word (and subword) vectors from the <pad> vector, summed over dimensions (--ig-steps)',
  async explain({ model, tokens, target, settings }: MethodInput): Promise<TokenAttribution> {
    const networks = model.networks as Sst2Network[];
    const n = tokens.ids.length;
    const steps = settings.igSteps;
    const points = steps + 1;
    // Per network: delta = x - b, [n, 1, dim] (time-major, one sentence).
    const deltas = tf.tidy(() => {
      const ids = tf.tensor2d(tokens.ids, [1, n], 'int32');
      const padIds = tf.zeros([1, n], 'int32') as tf.Tensor2D;
      return networks.map((net) => {
        let sub: SubwordTensors | undefined;
        if (net.subwordEmbedding) {
          const f = flattenSubwords([tokens.subwords]);
          sub = { ids: tf.tensor1d(f.ids, 'int32'), positions: tf.tensor1d(f.positions, 'int32'), weights: tf.tensor1d(f.weights, 'float32') };
        }
        return tf.sub(net.wordVectors(ids, sub), net.wordVectors(padIds, net.subwordEmbedding ? emptySubwords() : undefined)) as tf.Tensor3D;
      });
    });
    const attribution = new Float64Array(n);
    // [points] F along the path, as the objective given the perturbations at `alphas`.
    const pathLogOdds = (alphas: Float32Array, ps?: tf.Tensor[]): tf.Tensor1D => {
      const count = alphas.length;
      const padBatch = tf.zeros([count, n], 'int32') as tf.Tensor2D;
      const alpha = tf.tensor3d(alphas, [1, count, 1]);
      const logits = networks.map((net, m) => net.forward(padBatch, {
        training: false,
        // [n, count, dim]: a_k (x - b), added to the <pad> vectors b.
        perturbation: (ps?.[m] ?? tf.mul(alpha, deltas[m])) as tf.Tensor3D,
        subwords: net.subwordEmbedding ? emptySubwords() : undefined,
      }).logits);
      return classLogOdds(logits, target);
    };
    let vEmpty = 0;
    let vFull = 0;
    try {
      for (let start = 0; start < points; start += settings.batch) {
        const count = Math.min(settings.batch, points - start);
        // Path points a_k = k / steps; trapezoid weights 1/steps inside, 1/(2 steps) at the ends.
        const alphas = Float32Array.from({ length: count }, (_, j) => (start + j) / steps);
        const weights = Float32Array.from({ length: count }, (_, j) => (start + j === 0 || start + j === steps ? 0.5 : 1) / steps);
        const perToken = tf.tidy(() => {
          const alpha = tf.tensor3d(alphas, [1, count, 1]);
          const perturbations = deltas.map((d) => tf.mul(alpha, d) as tf.Tensor3D);
          const grads = tf.grads((...ps: tf.Tensor[]) => tf.sum(pathLogOdds(alphas, ps)) as tf.Scalar)(perturbations);
          const w = tf.tensor3d(weights, [1, count, 1]);
          // [n] sum over networks, path points and dimensions of (x - b) * weighted gradient.
          return tf.addN(grads.map((g, m) => tf.sum(tf.mul(tf.mul(g, w), deltas[m]), [1, 2])));
        });
        const a = await perToken.data();
        perToken.dispose();
        for (let i = 0; i < n; i++) attribution[i] += a[i];
      }
      const ends = tf.tidy(() => pathLogOdds(Float32Array.of(0, 1)));
      [vEmpty, vFull] = Array.from(await ends.data());
      ends.dispose();
    } finally {
      tf.dispose(deltas);
    }
    const values = Array.from(attribution);
    const zeros = new Array<number>(n).fill(0);
    return { values, se: zeros, ciLow: values.slice(), ciHigh: values.slice(), vFull, vEmpty, gap: relativeGap(values, vFull, vEmpty), estimator: 'path', evaluations: points + 2 };
  },
};
