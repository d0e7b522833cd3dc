/**
 * What every token attribution method shares: its input (a loaded model, an encoded sentence, the
 * explained class) and its output (one value per token, with a standard error when estimated,
 * and the check the method can make of itself). Each method is one file filling `explain`;
 * registry.ts lists them.
 */
import type { Sst2Classifier } from '../sst2/model.js';
import type { EncodedTokens, MaskName, TargetClass } from './game.js';

/** Settings every method reads (each uses the ones it needs). */
export interface MethodSettings {
  /** How a removed token is masked (game.ts MASKS): Shapley and leave-one-out. */
  mask: MaskName;
  /** Shapley: enumerate all 2^n coalitions up to this many tokens, else sample permutations. */
  exactMax: number;
  /** Shapley: permutations to sample above exactMax (paired with their reverses). */
  samples: number;
  /** Integrated Gradients: steps of the path (trapezoid rule over steps + 1 points). */
  igSteps: number;
  /** Sequences per forward pass. */
  batch: number;
  /** Seed of this sentence's sampler. */
  seed: number;
}

export interface MethodInput {
  model: Sst2Classifier;
  tokens: EncodedTokens;
  target: TargetClass;
  settings: MethodSettings;
}

/** One method's attributions of one sentence's tokens. */
export interface TokenAttribution {
  /** Per token, in the explained class's log-odds. */
  values: number[];
  /** Standard error per token (0 for deterministic values). */
  se: number[];
  /** 95% interval per token (equal to values when deterministic). */
  ciLow: number[];
  ciHigh: number[];
  /** The model's log-odds on the sentence, and on the fully masked sentence / the baseline. */
  vFull: number;
  vEmpty: number;
  /**
   * |sum(values) - (vFull - vEmpty)| / max(|vFull - vEmpty|, 1e-6): Shapley's efficiency gap,
   * Integrated Gradients' completeness gap; null for methods without the property (leave-one-out).
   */
  gap: number | null;
  /** How the values were computed: exact, permutation, occlusion, path. */
  estimator: string;
  /** Model evaluations (sequences, or path points times networks' gradients). */
  evaluations: number;
}

/** A token attribution method. */
export interface TokenMethod {
  /** Registry name (--methods). */
  name: string;
  /** Column label in tables and figures. */
  label: string;
  /** One line for --help. */
  help: string;
  explain(input: MethodInput): Promise<TokenAttribution>;
}

/** |sum - (vFull - vEmpty)| relative to the change it should add up to. */
export function relativeGap(values: readonly number[], vFull: number, vEmpty: number): number {
  const total = values.reduce((a, b) => a + b, 0);
  return Math.abs(total - (vFull - vEmpty)) / Math.max(Math.abs(vFull - vEmpty), 1e-6);
}
