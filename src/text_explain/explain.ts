/**
 * The explanation of sentences under a loaded SST-2 model, numbers only: the settings, the
 * per-sentence result, `explainWithModel` and the library API `explainText`. The command
 * (run.ts), the faithfulness curves and the sanity check build on it.
 */
import { UsageError } from '../core/errors.js';
import { deriveSeed } from '../core/rng.js';
import { tokenizeText, type Vocabulary } from '../sst2/data.js';
import type { Sst2Classifier } from '../sst2/model.js';
import { loadClassifier } from '../sst2/saved.js';
import { DEFAULT_MASK, encodeTokens, logOdds, type MaskName, type TargetClass } from './game.js';
import type { MethodSettings, TokenAttribution } from './method.js';
import { METHOD_NAMES, methodByName } from './registry.js';


/** Which class's log-odds to explain. */
export const TARGETS = ['predicted', 'positive', 'negative'] as const;
export type Target = (typeof TARGETS)[number];

/** Settings of explainText (defaults in TEXT_EXPLAIN_DEFAULTS). */
export interface ExplainTextSettings extends Omit<MethodSettings, 'seed'> {
  /** Methods to run, names from registry.ts. */
  methods: string[];
  /** Class whose log-odds is explained (predicted = the model's prediction per sentence). */
  target: Target;
  /** Seed of the samplers (each sentence gets deriveSeed(seed, 'explain-text', index)). */
  seed: number;
}

export const TEXT_EXPLAIN_DEFAULTS: ExplainTextSettings = {
  methods: [...METHOD_NAMES],
  target: 'predicted',
  mask: DEFAULT_MASK,
  exactMax: 14,
  samples: 64,
  igSteps: 64,
  batch: 256,
  seed: 42,
};

export interface ExplainTextOptions extends Partial<ExplainTextSettings> {
  /** The run folder dnnkit sst2 wrote, or its model/ folder (model.json, weights.bin, vocab.json). */
  model: string;
  /** Sentences (each tokenised as sst2 does: lower case, split on white space). */
  sentences: string[];
  /** Ids of the sentences (default s1, s2, ...). */
  ids?: string[];
  /** Called after each sentence with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** One method's result on one sentence, with its time. */
export interface MethodResult extends TokenAttribution {
  method: string;
  seconds: number;
}

export interface SentenceExplanation {
  id: string;
  sentence: string;
  /** The tokens the model reads (a sentence longer than the model's maxLen keeps its last tokens). */
  tokens: string[];
  /** Tokens dropped from the start by the model's maxLen. */
  truncated: number;
  /** The model's P(positive). */
  positive: number;
  predicted: 'positive' | 'negative';
  /** The class whose log-odds the values explain. */
  explained: 'positive' | 'negative';
  results: MethodResult[];
}

/** Checks settings that do not depend on the sentences (programming errors name no CLI flag). */
export function checkSettings(s: ExplainTextSettings): void {
  const unknown = s.methods.filter((m) => !methodByName(m));
  if (unknown.length > 0 || s.methods.length === 0) throw new UsageError(`unknown attribution method(s) '${unknown.join(',')}'; choose from ${METHOD_NAMES.join(', ')}`);
  if (!Number.isInteger(s.exactMax) || s.exactMax < 0 || s.exactMax > 16) throw new UsageError(`the exact-Shapley limit must be a whole number from 0 to 16 tokens, got ${s.exactMax}`);
}

/** Explains sentences with a loaded model (the model stays the caller's to dispose). */
export async function explainWithModel(model: Sst2Classifier, vocab: Vocabulary, sentences: readonly string[], settings: ExplainTextSettings, ids?: readonly string[], onProgress?: (done: number, total: number) => void): Promise<SentenceExplanation[]> {
  checkSettings(settings);
  const usesSubwords = (model.config.subwords ?? 0) > 0;
  const out: SentenceExplanation[] = [];
  for (const [k, sentence] of sentences.entries()) {
    const all = tokenizeText(sentence);
    if (all.length === 0) throw new UsageError(`sentence ${k + 1} is empty; give at least one word per sentence`);
    const tokens = all.length > vocab.maxLen ? all.slice(all.length - vocab.maxLen) : all;
    const encoded = encodeTokens(tokens, vocab);
    const [logit] = await logOdds(model, [encoded], 1, 1, usesSubwords);
    const positive = 1 / (1 + Math.exp(-logit));
    const predicted = positive >= 0.5 ? 'positive' as const : 'negative' as const;
    const explained = settings.target === 'predicted' ? predicted : settings.target;
    const target: TargetClass = explained === 'positive' ? 1 : 0;
    const methodSettings: MethodSettings = { ...settings, seed: deriveSeed(settings.seed, 'explain-text', k) };
    const results: MethodResult[] = [];
    for (const name of settings.methods) {
      const t0 = performance.now();
      const r = await methodByName(name)!.explain({ model, tokens: encoded, target, settings: methodSettings });
      results.push({ method: name, ...r, seconds: (performance.now() - t0) / 1000 });
    }
    out.push({ id: ids?.[k] ?? `s${k + 1}`, sentence, tokens, truncated: all.length - tokens.length, positive, predicted, explained, results });
    onProgress?.(k + 1, sentences.length);
  }
  return out;
}

/** The library API: loads the model, explains every sentence, disposes the model. */
export async function explainText(options: ExplainTextOptions): Promise<SentenceExplanation[]> {
  const settings: ExplainTextSettings = { ...TEXT_EXPLAIN_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([k, v]) => k in TEXT_EXPLAIN_DEFAULTS && v !== undefined)) };
  checkSettings(settings);
  if (options.sentences.length === 0) throw new UsageError('no sentences to explain; give at least one');
  const { model, vocab } = await loadClassifier(options.model);
  try {
    return await explainWithModel(model, vocab, options.sentences, settings, options.ids, options.onProgress);
  } finally {
    model.dispose();
  }
}

/** The words with the largest positive and negative values (at most k each). */
export function topWords(tokens: readonly string[], values: readonly number[], k = 3): { positive: string[]; negative: string[] } {
  const order = values.map((v, i) => i);
  const pos = order.filter((i) => values[i] > 0).sort((a, b) => values[b] - values[a]).slice(0, k);
  const neg = order.filter((i) => values[i] < 0).sort((a, b) => values[a] - values[b]).slice(0, k);
  return { positive: pos.map((i) => tokens[i]), negative: neg.map((i) => tokens[i]) };
}

// ----------------------------------------------------------------------------------------------
// The command.

/** Options of `dnnkit explain-text`. */
