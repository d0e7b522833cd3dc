/**
 * PatchShapley: Shapley values of the patches of one image for one class, the image game
 * (image_game.ts: patch grid, masking, baselines) solved by the estimators (shapley.ts: exact
 * enumeration or antithetic permutation sampling). The command-line options (--patches, --grid,
 * --baseline, --samples, --exact) are parsed and checked in options.ts.
 *
 * This module is also the public face of the method: it re-exports the pieces callers and tests
 * use, so that `import { PatchShapley, exactShapley, makeBaseline } from './patch_shapley.js'` works.
 */
import type * as tf from '@tensorflow/tfjs';
import { UsageError } from '../core/errors.js';
import { ImagePatchGame, type PatchGrid } from './image_game.js';
import { MAX_EXACT_PLAYERS, shapleyValues, DEFAULT_SHAPLEY_OPTIONS, type ShapleyOptions, type ShapleyResult } from './shapley.js';

export {
  MAX_EXACT_PLAYERS, DEFAULT_SHAPLEY_OPTIONS, coalitionKey, tQuantile975, exactShapley, sampledShapley, shapleyValues,
  type CoalitionGame, type ShapleyOptions, type ShapleyResult,
} from './shapley.js';
export {
  BASELINES, BASELINE_NAMES, patchIndexMap, fitPixelMap, makeBaseline, classLogOdds, ImagePatchGame,
  type BaselineName, type PatchGrid,
} from './image_game.js';
export { parseGrid } from './options.js';

export class PatchShapley {
  readonly methodName = 'patch Shapley';
  constructor(readonly model: tf.LayersModel, readonly grid: PatchGrid, readonly options: ShapleyOptions = DEFAULT_SHAPLEY_OPTIONS) {
    const players = grid.rows * grid.cols;
    if (options.exact && players > MAX_EXACT_PLAYERS) {
      throw new UsageError(`exact Shapley values enumerate all coalitions and allow at most ${MAX_EXACT_PLAYERS} patches, got ${players}; sample instead or use a smaller grid`);
    }
    if (!Number.isInteger(options.batch) || options.batch < 1) throw new UsageError(`the batch size must be a positive whole number, got ${options.batch}`);
  }

  /**
   * @param input [1, H, W, C] model input
   * @param baseline [1, H, W, C] the image with every patch absent
   */
  async explain(input: tf.Tensor4D, baseline: tf.Tensor4D, classIndex: number): Promise<ShapleyResult> {
    const game = new ImagePatchGame(this.model, input, baseline, this.grid, classIndex);
    try {
      return await shapleyValues(game, this.options);
    } finally {
      game.dispose();
    }
  }
}
