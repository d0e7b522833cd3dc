/**
 * The inputs of a MaxPoolGrad kernel call for a test: x, its max-pool output computed on the
 * tfjs cpu backend (left as the current backend), and dy drawn by `dyValues` for the output's size.
 */
import * as tf from '@tensorflow/tfjs';

export type KernelInputs = Record<string, { shape: number[]; values: Float32Array }>;

export async function maxPoolGradInputs(xVals: Float32Array, xShape: number[], pool: number, stride: number,
  pad: 'valid' | 'same' | number, dyValues: (shape: number[]) => Float32Array): Promise<KernelInputs> {
  await tf.setBackend('cpu');
  const y = tf.maxPool(tf.tensor4d(xVals, xShape as [number, number, number, number]), pool, stride, pad);
  const yVals = y.dataSync() as Float32Array;
  const yShape = y.shape;
  y.dispose();
  return {
    dy: { shape: yShape, values: dyValues(yShape) },
    input: { shape: xShape, values: xVals },
    output: { shape: yShape, values: yVals },
  };
}
