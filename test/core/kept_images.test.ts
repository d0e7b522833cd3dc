/**
 * KeptImages: images are kept up to the byte budget and disposed past it; what is taken is the
 * caller's; dispose() frees the rest. No tensor leaks either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { KeptImages } from '../../src/core/kept_images.js';

test('KeptImages keeps within its budget, hands over what is taken, and leaks no tensor', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const image = () => ({ input: tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, display: { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4 } });
  // each image: 48 floats (192 bytes) + 48 bytes = 240 bytes; a budget of 500 keeps two
  const kept = new KeptImages(500);
  const [a, b, c] = [image(), image(), image()];
  kept.offer('a', a);
  kept.offer('b', b);
  kept.offer('c', c);
  assert.ok(c.input.isDisposed, 'past the budget: disposed');
  assert.equal(kept.take('c'), undefined);
  assert.equal(kept.take('a'), a);
  assert.ok(!a.input.isDisposed, 'taken: the caller disposes it');
  kept.offer('c', image()); // room again after the take
  a.input.dispose();
  kept.dispose();
  assert.ok(b.input.isDisposed);
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
});
