/**
 * The token attribution methods by name: the one list that --methods, the help text, the CSV's
 * `method` column and the tests read.
 */
import { integratedGradients } from './integrated_gradients.js';
import type { TokenMethod } from './method.js';
import { leaveOneOut } from './occlusion.js';
import { tokenShapley } from './token_shapley.js';

export const TOKEN_METHODS: readonly TokenMethod[] = [tokenShapley, leaveOneOut, integratedGradients];
export const METHOD_NAMES = TOKEN_METHODS.map((m) => m.name);

/** The method called `name`, or undefined. */
export const methodByName = (name: string): TokenMethod | undefined => TOKEN_METHODS.find((m) => m.name === name);
