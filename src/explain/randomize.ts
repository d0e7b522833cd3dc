/**
 * Model-parameter randomisation for the sanity checks of Adebayo et al. (2018), "Sanity Checks
 * for Saliency Maps", NeurIPS, section 3.1: the parameters of a layer (or a block of layers) are
 * replaced by random values, from the logits downwards ("cascading randomisation"), and an
 * explanation that depends on what the model learned must change.
 *
 * - Parameters: every weight of a layer (kernels, biases, batch-norm gamma and beta) except the
 *   batch-norm moving statistics, which are not learned parameters (Adebayo et al. re-initialise
 *   the trainable variables).
 * - Random values: each weight tensor is redrawn i.i.d. from N(mean, std) of its own original
 *   values, so the scale of the activations is kept (a kernel ~ N(0, std of the kernel), a
 *   batch-norm gamma ~ N(mean gamma, std gamma)); the map then changes because the structure
 *   the model learned is gone, not because activations vanish or explode. A tensor with std 0
 *   (zero biases, batch-norm at its init) stays as it was.
 * - Seeds: tensor j of layer L draws from `deriveSeed(seed, stream, L, j)`, so a layer gets the
 *   same values at every step of the cascade, and the draws do not depend on the other layers.
 * - Groups: a layer named `a.b.rest` belongs to block `a.b` (torchvision's ResNet: `layer4.1.conv1`,
 *   `layer4.1.bn1`, `layer4.1.downsample.0` are block `layer4.1`); any other name is its own group
 *   (`fc`, `conv1`, VGG's `features.28`, the MNIST CNN's `logits`). Groups are ordered from the
 *   output down by the position of their last layer.
 *
 * The model is changed in place and restored by the function `randomizeLayers` returns;
 * callers restore in a `finally` (runSanity does). The model's files are never written.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, deriveSeed } from '../core/rng.js';

type Layer = tf.layers.Layer;
type LayerVariable = Layer['weights'][number];

/** Layers whose parameters are randomised together, one step of the cascade. */
export interface LayerGroup {
  /** The block name (`layer4.1`) or the layer's name. */
  name: string;
  /** Its layers with parameters, in model order. */
  layers: string[];
}

/** How layers are grouped into cascade steps. */
export type Grouping = 'block' | 'layer';

/** Whether a weight is a learned parameter (batch-norm moving statistics are not). */
function isParameter(w: LayerVariable): boolean {
  return !/moving_(mean|variance)(_\d+)?$/.test(w.originalName ?? w.name);
}

/** The layer's learned parameters (see the module comment). */
export function parametersOf(layer: Layer): LayerVariable[] {
  return layer.weights.filter(isParameter);
}

/** The block of a layer name: the first two dot-separated parts when there are three or more. */
export function blockOf(layerName: string): string {
  const parts = layerName.split('.');
  return parts.length >= 3 ? `${parts[0]}.${parts[1]}` : layerName;
}

/**
 * The model's layers with parameters, grouped (`block`: ResNet blocks; `layer`: one layer per
 * group), from the output down: [logits, ..., first layer].
 */
export function parameterGroups(model: tf.LayersModel, grouping: Grouping = 'block'): LayerGroup[] {
  const groups = new Map<string, { layers: string[]; last: number }>();
  model.layers.forEach((layer, i) => {
    if (parametersOf(layer).length === 0) return;
    const key = grouping === 'block' ? blockOf(layer.name) : layer.name;
    const g = groups.get(key) ?? { layers: [], last: i };
    g.layers.push(layer.name);
    g.last = i;
    groups.set(key, g);
  });
  return [...groups.entries()].sort((a, b) => b[1].last - a[1].last).map(([name, g]) => ({ name, layers: g.layers }));
}

/** Mean and (population) standard deviation. */
function moments(v: Float32Array): { mean: number; std: number } {
  let m = 0;
  for (let i = 0; i < v.length; i++) m += v[i];
  m /= v.length;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] - m) ** 2;
  return { mean: m, std: Math.sqrt(s / v.length) };
}

/**
 * Replaces the parameters of `layers` (names) by seeded draws from N(mean, std) of each tensor's
 * own values (see the module comment). Returns the function that writes the original values back
 * (and frees their copies); call it exactly once.
 */
export function randomizeLayers(model: tf.LayersModel, layers: readonly string[], seed: number, stream = 'cascade'): () => void {
  const saved: { variable: LayerVariable; original: tf.Tensor }[] = [];
  const restore = () => {
    for (const { variable, original } of saved.reverse()) {
      variable.write(original);
      original.dispose();
    }
    saved.length = 0;
  };
  try {
    for (const name of layers) {
      const layer = model.getLayer(name);
      parametersOf(layer).forEach((variable, j) => {
        const current = variable.read();
        const values = current.dataSync() as Float32Array;
        const { mean, std } = moments(values);
        if (std === 0) return;
        // tf.clone shares the data; variable.write then points the variable at new data and the
        // clone keeps the original values alive until restore.
        saved.push({ variable, original: tf.clone(current) });
        const rng = createRng(deriveSeed(seed, stream, name, j));
        const drawn = new Float32Array(values.length);
        for (let i = 0; i < drawn.length; i++) drawn[i] = mean + std * rng.normal();
        const fresh = tf.tensor(drawn, current.shape, 'float32');
        variable.write(fresh);
        fresh.dispose(); // the variable holds its own reference
      });
    }
  } catch (err) {
    restore();
    throw err;
  }
  return restore;
}
