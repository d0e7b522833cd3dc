/**
 * The LSTM written plainly in composite tf ops (the textbook formula, gates i, f, g, o),
 * time-major, outputs in input time order: the reference of the fused JS and native LSTM tests.
 */
import * as tf from '@tensorflow/tfjs';

export function referenceLstm(x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D, reverse: boolean): tf.Tensor3D {
  const [time, batch] = x.shape;
  const units = wh.shape[0];
  let h = tf.zeros([batch, units]) as tf.Tensor2D;
  let c = tf.zeros([batch, units]) as tf.Tensor2D;
  const hs: tf.Tensor2D[] = new Array(time);
  for (let k = 0; k < time; k++) {
    const t = reverse ? time - 1 - k : k;
    const xt = tf.slice(x, [t, 0, 0], [1, batch, x.shape[2]]).reshape([batch, x.shape[2]]) as tf.Tensor2D;
    const z = tf.add(tf.add(tf.matMul(xt, wx), tf.matMul(h, wh)), b);
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg))) as tf.Tensor2D;
    h = tf.mul(tf.sigmoid(zo), tf.tanh(c)) as tf.Tensor2D;
    hs[t] = h;
  }
  return tf.stack(hs) as tf.Tensor3D;
}
