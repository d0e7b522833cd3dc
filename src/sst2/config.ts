/**
 * The SST-2 classifier's architecture settings (Sst2ModelConfig) and pooling choices, apart from
 * the networks that read them (model.ts: LSTM and ensemble, cnn.ts: CNN), so that neither
 * network file imports the other for its type.
 */

/** Architecture of the classifier; every field is written to run.json and model.json. */
export interface Sst2ModelConfig {
  /** Words in the vocabulary, <pad> and <oov> included. */
  vocabSize: number;
  /** Size of the learned word vectors. */
  embeddingDim: number;
  /** Hidden units per LSTM (per direction). */
  units: number;
  /** Stacked LSTM layers. */
  layers: number;
  /** Run a second LSTM right-to-left in every layer and concatenate both states. */
  bidirectional: boolean;
  /** Dropout rate on the word vectors, between LSTM layers and before the dense layer. */
  dropout: number;
  /**
   * How the last LSTM layer's hidden states become the sentence vector fed to the dense layer:
   * `last` = final state (after the last word; for right-to-left, after the first), `max` =
   * element-wise maximum over time (BiLSTM-max, Conneau et al. 2017), `mean` = average over
   * time, `meanmax` = both concatenated. Missing in models saved before the option: `last`.
   */
  pooling?: Pooling;
  /**
   * Independently initialised LSTM networks trained side by side (each on its own loss), whose
   * probabilities are averaged: an ensemble in one model. Missing = 1.
   */
  members?: number;
  /**
   * CNN networks (cnn.ts) in the ensemble besides the LSTMs, after them (members
   * `members + 1`...). Missing = 0.
   */
  cnnMembers?: number;
  /** Filters per width of each CNN network. Missing = 100. */
  cnnFilters?: number;
  /** Window widths (in words) of each CNN network's filters. Missing = CNN_WIDTHS (cnn.ts). */
  cnnWidths?: number[];
  /**
   * Character n-gram vectors per network (the vocabulary's subwords), added as a mean to each
   * word vector (see data.ts). Missing or 0 = none.
   */
  subwords?: number;
}

/** Ways to turn the hidden states of a sentence into one vector (see Sst2ModelConfig.pooling). */
export const POOLINGS = ['last', 'max', 'mean', 'meanmax'] as const;
export type Pooling = (typeof POOLINGS)[number];
