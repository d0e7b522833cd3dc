/**
 * SST-2 data: reading the TSV splits, the vocabulary and the encoding of sentences to token ids.
 *
 * Two layouts are accepted (detected from the first line of train.tsv):
 * - `sentence`: the sentence-level split dnnkit ships in data/sst2 (Socher et al. 2013):
 *   no header, `sentence<TAB>label` in train/dev/test (6,920 / 872 / 1,821 sentences).
 * - `glue`: GLUE's SST-2 (Wang et al. 2019): header `sentence<TAB>label` in train/dev
 *   (67,349 training phrases), test.tsv with header `index<TAB>sentence` and no labels.
 *
 * Padding and truncation: a sentence longer than `maxLen` tokens keeps its LAST `maxLen` tokens
 * (Keras's truncating='pre': the end of a review tends to carry the verdict). Shorter sentences
 * are NOT padded for the LSTM: batches are grouped by length (see `lengthBatches`), so the
 * recurrent cells never read padding and the final state is the state after the last word.
 * Id 0 (`<pad>`) is reserved for tools that need a rectangular matrix (`padIds` pads at the end);
 * id 1 (`<oov>`) stands for every word not in the vocabulary (with `oovPrefix`, for those whose
 * prefix has no `<oov:PREFIX>` entry: see backoffId).
 *
 * Subword vectors (`subwordMinTypes` > 0, after fastText: Bojanowski et al. 2017): every word,
 * known or not, also has the ids of its character 3- to 5-grams (of `<word>`, the brackets mark
 * the word's start and end) that occur in at least `subwordMinTypes` distinct training words.
 * The network adds their mean vector to the word's vector, so an unknown word ("unwatchable")
 * still gets a vector from the pieces it shares with training words ("watchable", "un...").
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { assertReadableFile, writeFileAtomic } from '../core/fsutil.js';
import { InputError, withPath } from '../core/errors.js';
import { readUtf8File } from '../core/csv.js';
import type { Rng } from '../core/rng.js';

export const PAD_TOKEN = '<pad>';
export const OOV_TOKEN = '<oov>';
export const PAD_ID = 0;
export const OOV_ID = 1;
export const SPLITS = ['train', 'dev', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** The file layouts the reader understands. */
export const LAYOUTS = {
  sentence: 'sentence-level SST-2 (no header, sentence<TAB>label, labelled test split)',
  glue: 'GLUE SST-2 (header sentence<TAB>label; test.tsv has index<TAB>sentence and no labels)',
} as const;
export type Layout = keyof typeof LAYOUTS;

/** Names of the labels 0 and 1 (features.csv, plots, predictions). */
export const SENTIMENT_NAMES = ['negative', 'positive'] as const;

export interface Example {
  /** `<split>-<row>` (row counted from 0 among the data rows). */
  id: string;
  tokens: string[];
  /** 1 = positive, 0 = negative, null when the split has no labels (GLUE test). */
  label: 0 | 1 | null;
  /** 1-based line number in the file, for messages. */
  line: number;
}

export interface Split {
  name: SplitName;
  file: string;
  examples: Example[];
  /** Whether every example has a label. */
  labelled: boolean;
}

export interface Sst2Data {
  layout: Layout;
  train: Split;
  dev: Split;
  test: Split;
}

/** Lower-cases and splits on white space (the shipped data is already tokenised). */
export function tokenize(sentence: string): string[] {
  return sentence.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
}

/** Clitics the corpus writes as tokens of their own (Penn Treebank style: "is n't", "it 's"). */
const CLITIC = /^(.*[a-z0-9])(n't|'s|'re|'ve|'ll|'d|'m)$/;

/**
 * Tokenises text as a user types it into the shipped corpus's form, so "Gorgeous, isn't it?"
 * reaches the model as `gorgeous , is n't it ?` and not as the unknown words "gorgeous," and
 * "isn't". The corpus (sentence-level SST-2) is lower case; splits off `,` `;` `:` and runs of
 * `!` `?` as tokens and the clitics n't 's 're 've 'll 'd 'm (Penn Treebank: "can't" -> ca n't);
 * writes double quotes as `` and ''; has no periods, brackets or hyphens ("bug eyed"). Text
 * already in that form comes back unchanged (a test checks every sentence of data/sst2).
 */
export function tokenizeText(sentence: string): string[] {
  let open = true;
  const text = sentence.normalize('NFKC').toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[\u201c\u201d"]/g, () => ((open = !open) ? " '' " : ' `` '))
    .replace(/(\d),(?=\d)/g, '$1\u0000') // 2,500 stays one token
    .replace(/([,;:]|[!?]+)/g, ' $1 ')
    .replace(/[-\u2010-\u2015/]+|[.()[\]{}\u2026]+/g, ' ')
    .replace(/\u0000/g, ',');
  return text.split(/\s+/).filter((t) => t.length > 0).flatMap((t) => {
    const m = CLITIC.exec(t);
    return m ? [m[1], m[2]] : [t];
  });
}

const HEADER_NAMES = new Set(['sentence', 'label', 'index', 'idx', 'id']);

/**
 * Parses one SST-2 TSV text. A first line made only of known column names (`sentence`, `label`,
 * `index`) is a header; without one the columns are `sentence<TAB>label`. Bad labels, empty
 * sentences and rows with the wrong number of cells are InputErrors naming the file and line.
 */
export function parseSst2Tsv(text: string, file: string, split: SplitName): { examples: Example[]; header: string[] | null } {
  // Split by hand: no quoting (SST-2 sentences contain bare quote characters: `` '' "), and only
  // '\n' ends a line, so line numbers match an editor's. A '\r' before it (CRLF files) is dropped;
  // one elsewhere is white space inside the sentence (csv-parse counted it as a line break, and
  // every later error named the line after the bad one). Empty lines are skipped.
  const records: { cells: string[]; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line !== '') records.push({ cells: line.split('\t'), line: i + 1 });
  });
  if (records.length === 0) throw new InputError(`${file} has no rows; expected sentence<TAB>label lines`);
  const first = records[0].cells.map((c) => c.trim().toLowerCase());
  const isHeader = first.includes('sentence') && first.every((c) => HEADER_NAMES.has(c));
  const header = isHeader ? first : null;
  const columns = header ?? ['sentence', 'label'];
  const sentenceCol = columns.indexOf('sentence');
  const labelCol = columns.indexOf('label');
  const rows = isHeader ? records.slice(1) : records;
  const examples: Example[] = [];
  for (const { cells: record, line } of rows) {
    if (record.length !== columns.length) {
      throw new InputError(`${file}:${line}: expected ${columns.length} tab-separated cells (${columns.join(', ')}), got ${record.length}; fix or remove the line`);
    }
    const tokens = tokenize(record[sentenceCol]);
    if (tokens.length === 0) throw new InputError(`${file}:${line}: empty sentence; every line needs a sentence before the tab`);
    let label: 0 | 1 | null = null;
    if (labelCol >= 0) {
      const raw = record[labelCol].trim();
      if (raw !== '0' && raw !== '1') {
        throw new InputError(`${file}:${line}: label '${raw}' is not 0 or 1; SST-2 labels are 0 (negative) or 1 (positive)`);
      }
      label = raw === '1' ? 1 : 0;
    }
    examples.push({ id: `${split}-${examples.length}`, tokens, label, line });
  }
  if (examples.length === 0) throw new InputError(`${file} has a header but no sentences`);
  return { examples, header };
}

/** Reads train.tsv, dev.tsv and test.tsv from `dir`, detecting the layout. */
export async function loadSst2(dir: string): Promise<Sst2Data> {
  const splits = {} as Record<SplitName, Split>;
  let layout: Layout | undefined;
  for (const name of SPLITS) {
    const file = path.join(dir, `${name}.tsv`);
    await assertReadableFile(file, `SST-2 ${name} split`);
    const { examples, header } = parseSst2Tsv(await readUtf8File(file), file, name);
    const labelled = examples.every((e) => e.label !== null);
    if (name === 'train') layout = header ? 'glue' : 'sentence';
    if (!labelled && name !== 'test') {
      throw new InputError(`${file} has no label column; the ${name} split needs sentence<TAB>label`);
    }
    splits[name] = { name, file, examples, labelled };
  }
  return { layout: layout!, ...splits };
}

/** A word list with its lookup; ids 0 and 1 are `<pad>` and `<oov>`. */
export interface Vocabulary {
  tokens: string[];
  index: Map<string, number>;
  /** Words seen fewer times than this in training map to `<oov>`. */
  minCount: number;
  /** Sentences are truncated to this many tokens (see the file comment). */
  maxLen: number;
  /**
   * Length of the prefix that unknown words back off to (0 = off, every unknown word is
   * `<oov>`): an unknown word longer than this maps to `<oov:PREFIX>` when training had that
   * prefix (so "unwatchable" can share what "unwatched" taught), else to `<oov>`.
   */
  oovPrefix: number;
  /** Character n-grams with a vector (id = position); empty when subword vectors are off. */
  subwords: string[];
  subwordIndex: Map<string, number>;
  /** An n-gram has a vector when this many distinct training words contain it (0 = off). */
  subwordMinTypes: number;
}

/** Shortest and longest character n-grams of a word's subword vectors. */
export const SUBWORD_NGRAMS = [3, 5] as const;

/** The distinct character n-grams (SUBWORD_NGRAMS) of `<word>`, sorted. */
export function charNgrams(word: string): string[] {
  const w = `<${word}>`;
  const grams = new Set<string>();
  for (let n = SUBWORD_NGRAMS[0]; n <= SUBWORD_NGRAMS[1]; n++) {
    for (let i = 0; i + n <= w.length; i++) grams.add(w.slice(i, i + n));
  }
  return [...grams].sort();
}

/** The vocabulary entry of unknown words that start with `prefix`. */
export const prefixToken = (prefix: string): string => `<oov:${prefix}>`;

/** The id an unknown `token` maps to: its prefix entry when there is one, else `<oov>`. */
export function backoffId(token: string, vocab: Vocabulary): number {
  if (vocab.oovPrefix <= 0 || token.length <= vocab.oovPrefix) return OOV_ID;
  return vocab.index.get(prefixToken(token.slice(0, vocab.oovPrefix))) ?? OOV_ID;
}

/**
 * Builds the vocabulary from training sentences: words seen at least `minCount` times, most
 * frequent first (ties alphabetical, so the ids are deterministic), then (with `oovPrefix` > 0)
 * the `<oov:PREFIX>` entries of the prefixes of longer words seen at least `minCount` times.
 * `maxLen` defaults to the longest training sentence. With `subwordMinTypes` > 0, the character
 * n-grams found in at least that many distinct training words (rare words included), most
 * widespread first (ties alphabetical).
 */
export function buildVocabulary(train: readonly Example[], minCount: number, maxLen?: number, oovPrefix = 0, subwordMinTypes = 0): Vocabulary {
  const counts = new Map<string, number>();
  const prefixes = new Map<string, number>();
  for (const e of train) {
    for (const t of e.tokens) {
      counts.set(t, (counts.get(t) ?? 0) + 1);
      if (oovPrefix > 0 && t.length > oovPrefix) {
        const prefix = t.slice(0, oovPrefix);
        prefixes.set(prefix, (prefixes.get(prefix) ?? 0) + 1);
      }
    }
  }
  // The keys counted at least `min` times, most counted first, ties alphabetical.
  const mostFirst = (m: Map<string, number>, min: number) => [...m].filter(([, n]) => n >= min)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([t]) => t);
  const byFrequency = (m: Map<string, number>) => mostFirst(m, minCount).filter((t) => t !== PAD_TOKEN && t !== OOV_TOKEN);
  const tokens = [PAD_TOKEN, OOV_TOKEN, ...byFrequency(counts), ...byFrequency(prefixes).map(prefixToken)];
  const gramTypes = new Map<string, number>();
  if (subwordMinTypes > 0) {
    for (const word of counts.keys()) for (const g of charNgrams(word)) gramTypes.set(g, (gramTypes.get(g) ?? 0) + 1);
  }
  const subwords = mostFirst(gramTypes, subwordMinTypes);
  return {
    tokens,
    index: new Map(tokens.map((t, i) => [t, i])),
    minCount,
    maxLen: maxLen ?? Math.max(1, ...train.map((e) => e.tokens.length)),
    oovPrefix,
    subwords,
    subwordIndex: new Map(subwords.map((g, i) => [g, i])),
    subwordMinTypes,
  };
}

const truncate = (tokens: readonly string[], vocab: Vocabulary) => (tokens.length > vocab.maxLen ? tokens.slice(tokens.length - vocab.maxLen) : tokens);

/** Token ids of a tokenised sentence, truncated to the last `maxLen` tokens, no padding; unknown words back off (backoffId). */
export function encode(tokens: readonly string[], vocab: Vocabulary): Int32Array {
  return Int32Array.from(truncate(tokens, vocab), (t) => vocab.index.get(t) ?? backoffId(t, vocab));
}

/** For every token that encode keeps, the id it would have if it were unknown (what word dropout puts in its place). */
export function encodeBackoff(tokens: readonly string[], vocab: Vocabulary): Int32Array {
  return Int32Array.from(truncate(tokens, vocab), (t) => backoffId(t, vocab));
}

/** For every token that encode keeps, the ids of its character n-grams that have a vector (none when subwords are off). */
export function encodeSubwords(tokens: readonly string[], vocab: Vocabulary): Int32Array[] {
  return truncate(tokens, vocab).map((t) => tokenSubwords(t, vocab));
}

/** The ids of the character n-grams of `token` that have a vector. */
export function tokenSubwords(token: string, vocab: Vocabulary): Int32Array {
  return Int32Array.from(charNgrams(token).map((g) => vocab.subwordIndex.get(g) ?? -1).filter((id) => id >= 0));
}

/**
 * What the networks read for each tokenised sentence: its token ids and, when the vocabulary has
 * subword vectors, its tokens' n-gram ids (the input of predictSplit).
 */
export function encodeSentences(sentences: readonly (readonly string[])[], vocab: Vocabulary): { ids: Int32Array[]; subwords?: Int32Array[][] } {
  return {
    ids: sentences.map((t) => encode(t, vocab)),
    ...(vocab.subwords.length > 0 ? { subwords: sentences.map((t) => encodeSubwords(t, vocab)) } : {}),
  };
}

/**
 * The subword ids of a batch of equal-length sentences (each a list of per-token id lists, as
 * encodeSubwords returns), flattened for a segment sum: `ids[j]` belongs to the token at
 * time-major position `positions[j]` (= time * batch + sentence) and weighs `weights[j]` = 1 /
 * that token's n-gram count, so the sum per position is the mean n-gram vector.
 */
export function flattenSubwords(sentences: readonly (readonly Int32Array[])[]): { ids: Int32Array; positions: Int32Array; weights: Float32Array } {
  const batch = sentences.length;
  let n = 0;
  for (const s of sentences) for (const t of s) n += t.length;
  const ids = new Int32Array(n);
  const positions = new Int32Array(n);
  const weights = new Float32Array(n);
  let j = 0;
  sentences.forEach((s, b) => s.forEach((grams, t) => {
    for (const g of grams) {
      ids[j] = g;
      positions[j] = t * batch + b;
      weights[j] = 1 / grams.length;
      j++;
    }
  }));
  return { ids, positions, weights };
}

/** Pads (at the end, with `<pad>`) id sequences to a [n, maxLen] row-major matrix. */
export function padIds(seqs: readonly Int32Array[], maxLen: number): Int32Array {
  const out = new Int32Array(seqs.length * maxLen); // zeros = PAD_ID
  seqs.forEach((s, i) => out.set(s.subarray(0, maxLen), i * maxLen));
  return out;
}

/** Share of tokens in `examples` not in the vocabulary (with `generic`, only those that map to `<oov>` itself). */
export function oovRate(examples: readonly Example[], vocab: Vocabulary, generic = false): number {
  let n = 0;
  let oov = 0;
  for (const e of examples) {
    for (const t of e.tokens) {
      n += 1;
      if (!vocab.index.has(t) && (!generic || backoffId(t, vocab) === OOV_ID)) oov += 1;
    }
  }
  return n === 0 ? 0 : oov / n;
}

/**
 * Groups example indices into batches of equal sequence length (at most `batchSize` each), so
 * no batch needs padding. With `rng`, the order inside each length and the order of the batches
 * are shuffled (training); without, batches come by length, in file order (evaluation).
 */
export function lengthBatches(lengths: readonly number[], batchSize: number, rng?: Rng): number[][] {
  const byLength = new Map<number, number[]>();
  lengths.forEach((len, i) => {
    const list = byLength.get(len) ?? [];
    list.push(i);
    byLength.set(len, list);
  });
  const batches: number[][] = [];
  for (const len of [...byLength.keys()].sort((a, b) => a - b)) {
    const idx = rng ? rng.shuffled(byLength.get(len)!) : byLength.get(len)!;
    for (let i = 0; i < idx.length; i += batchSize) batches.push(idx.slice(i, i + batchSize));
  }
  return rng ? rng.shuffled(batches) : batches;
}

/** The vocabulary file written beside a saved model. */
export const VOCAB_FILE = 'vocab.json';

export async function saveVocabulary(vocab: Vocabulary, dir: string): Promise<void> {
  const file = path.join(dir, VOCAB_FILE);
  await writeFileAtomic(file, JSON.stringify({
    format: 'dnnkit-sst2-vocab', padId: PAD_ID, oovId: OOV_ID, minCount: vocab.minCount, maxLen: vocab.maxLen, oovPrefix: vocab.oovPrefix,
    truncation: 'keep the last maxLen tokens', tokenizer: 'lower-case, split on white space', tokens: vocab.tokens,
    ...(vocab.subwords.length > 0 ? { subwordMinTypes: vocab.subwordMinTypes, subwordNgrams: SUBWORD_NGRAMS, subwords: vocab.subwords } : {}),
  })).catch((err) => { throw withPath(err, file); });
}

export async function loadVocabulary(dir: string): Promise<Vocabulary> {
  const file = path.join(dir, VOCAB_FILE);
  await assertReadableFile(file, 'vocabulary');
  let json: { format?: string; tokens?: unknown; minCount?: number; maxLen?: number; oovPrefix?: number; subwords?: unknown; subwordMinTypes?: number };
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file} is not valid JSON (${(err as Error).message}); re-run dnnkit sst2 to write it`);
  }
  if (json.format !== 'dnnkit-sst2-vocab' || !Array.isArray(json.tokens) || typeof json.maxLen !== 'number') {
    throw new InputError(`${file} is not a dnnkit SST-2 vocabulary; give the --model directory that dnnkit sst2 wrote`);
  }
  if (json.subwords !== undefined && !Array.isArray(json.subwords)) {
    throw new InputError(`${file}: 'subwords' is not a list of character n-grams; re-run dnnkit sst2 to write it`);
  }
  const tokens = json.tokens as string[];
  // Vocabularies written before subword vectors have none.
  const subwords = (json.subwords ?? []) as string[];
  return {
    tokens, index: new Map(tokens.map((t, i) => [t, i])), minCount: json.minCount ?? 1, maxLen: json.maxLen, oovPrefix: json.oovPrefix ?? 0,
    subwords, subwordIndex: new Map(subwords.map((g, i) => [g, i])), subwordMinTypes: json.subwordMinTypes ?? 0,
  };
}
