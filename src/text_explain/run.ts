/**
 * `explainText(options)`: the library API (numbers only: load the model, encode the sentences,
 * run the methods); `runExplainText`: the command (read the sentences, call explainText, write
 * the CSV, figures and HTML, print the table, return the run record).
 */
import * as path from 'node:path';
import { initBackend } from '../core/backend.js';
import { recorded, type CommonOptions } from '../core/command.js';
import { readUtf8File, writeCsv } from '../core/csv.js';
import { InputError, UsageError } from '../core/errors.js';
import { makeDirs, writeFileAtomic } from '../core/fsutil.js';
import { svgToPng } from '../core/image.js';
import { createLogger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import { invalidateRunRecord } from '../core/run_record.js';
import { parseSst2Tsv, tokenizeText } from '../sst2/data.js';
import { loadClassifier } from '../sst2/saved.js';
import type { MaskName } from './game.js';
import { methodByName } from './registry.js';
import { checkSettings, explainText, explainWithModel, topWords, type ExplainTextSettings, type SentenceExplanation, type Target } from './explain.js';

export * from './explain.js';
import { sentenceHtml, sentenceSvg } from './render.js';
import { measureFaithfulness, type FaithfulnessSummary } from './faithfulness.js';
import { randomisationCheck, type SanityMethod } from './sanity.js';
export interface ExplainTextRunOptions extends CommonOptions {
  model: string;
  /** A text file with one sentence per line (a tab ends the sentence: sentence<TAB>label files work). */
  file?: string;
  /** Explain the sentences of this split of --data-dir. */
  split?: 'train' | 'dev' | 'test';
  dataDir: string;
  /** Explain at most this many sentences. */
  limit?: number;
  /** Comma-separated method names. */
  methods: string;
  target: Target;
  mask: MaskName;
  exactMax: number;
  samples: number;
  igSteps: number;
  /** Sequences per forward pass (--batch-size). */
  batchSize: number;
  /** Also measure deletion/insertion curves (faithfulness.ts). */
  faithfulness: boolean;
  /** Also explain with randomised weights and report each method's rank correlation (sanity.ts). */
  sanity: boolean;
  /** Write a PNG (and SVG, HTML) per sentence; with many sentences only the first `figures`. */
  figures: number;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The sentences to explain, with ids: arguments (`-` = stdin lines), --file lines, or --split. */
async function readSentences(opts: ExplainTextRunOptions, args: string[]): Promise<{ ids: string[]; sentences: string[] }> {
  const ids: string[] = [];
  const sentences: string[] = [];
  const addLines = (text: string, prefix: string) => text.split('\n').map((l) => l.split('\t')[0].trim()).filter((l) => l !== '').forEach((l, i) => {
    ids.push(`${prefix}${i + 1}`);
    sentences.push(l);
  });
  for (const [i, a] of args.entries()) {
    if (a === '-') addLines(await readStdin(), 'stdin-');
    else {
      ids.push(`arg-${i + 1}`);
      sentences.push(a);
    }
  }
  if (opts.file) addLines(await readUtf8File(opts.file), 'line-');
  if (opts.split) {
    const file = path.join(opts.dataDir, `${opts.split}.tsv`);
    const { examples } = parseSst2Tsv(await readUtf8File(file).catch((err) => { throw new InputError(`cannot read ${file} (${(err as Error).message}); give --data-dir with ${opts.split}.tsv`); }), file, opts.split);
    for (const e of examples) {
      ids.push(e.id);
      sentences.push(e.tokens.join(' '));
    }
  }
  const empty = sentences.findIndex((s) => tokenizeText(s).length === 0);
  if (empty >= 0) throw new UsageError(`sentence ${empty + 1} ('${sentences[empty]}') is empty; give at least one word per sentence`);
  if (sentences.length === 0) throw new UsageError('no sentences to explain; give sentences as arguments, - for stdin, --file F or --split dev');
  const n = opts.limit ?? sentences.length;
  return { ids: ids.slice(0, n), sentences: sentences.slice(0, n) };
}

export const CSV_FILE = 'attributions.csv';
export const SENTENCES_CSV = 'sentences.csv';

/** `dnnkit explain-text`: explains, writes attributions.csv, sentences.csv, figures, run.json. */
export async function runExplainText(opts: ExplainTextRunOptions, args: string[]) {
  const log = createLogger(opts.quiet);
  const methods = opts.methods.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const settings: ExplainTextSettings = { methods, target: opts.target, mask: opts.mask, exactMax: opts.exactMax, samples: opts.samples, igSteps: opts.igSteps, batch: opts.batchSize, seed: opts.seed };
  checkSettings(settings);
  const { ids, sentences } = await readSentences(opts, args);
  const backend = await initBackend(opts.backend);
  const { model, vocab } = await loadClassifier(opts.model);
  let explanations: SentenceExplanation[];
  let faithfulness: FaithfulnessSummary | undefined;
  let sanity: SanityMethod[] | undefined;
  try {
    const progress = createProgress({ total: sentences.length, label: 'explain-text', quiet: opts.quiet });
    try {
      explanations = await explainWithModel(model, vocab, sentences, settings, ids, (done) => progress.update(done));
    } finally {
      progress.stop();
    }
    if (opts.faithfulness) {
      log.info('faithfulness: deletion and insertion curves');
      faithfulness = await measureFaithfulness(model, vocab, explanations, { mask: opts.mask, batch: opts.batchSize, seed: opts.seed });
    }
    if (opts.sanity) {
      log.info('sanity: explaining again with randomised weights');
      sanity = await randomisationCheck(model, vocab, explanations, settings);
    }
  } finally {
    model.dispose();
  }
  await makeDirs(opts.out);
  await invalidateRunRecord(opts.out);
  const files: string[] = [CSV_FILE, SENTENCES_CSV];
  await writeCsv(path.join(opts.out, CSV_FILE), ['sentence_id', 'token_index', 'token', 'method', 'value', 'se', 'ci_low', 'ci_high'],
    explanations.flatMap((e) => e.results.flatMap((r) => e.tokens.map((t, i) => [e.id, i, t, r.method, r.values[i], r.se[i], r.ciLow[i], r.ciHigh[i]]))));
  await writeCsv(path.join(opts.out, SENTENCES_CSV), ['sentence_id', 'tokens', 'p_positive', 'predicted', 'explained', 'method', 'estimator', 'v_full', 'v_empty', 'gap', 'evaluations', 'seconds', 'top_positive', 'top_negative', 'sentence'],
    explanations.flatMap((e) => e.results.map((r) => {
      const top = topWords(e.tokens, r.values);
      return [e.id, e.tokens.length, e.positive, e.predicted, e.explained, r.method, r.estimator, r.vFull, r.vEmpty, r.gap ?? '', r.evaluations, r.seconds, top.positive.join(' '), top.negative.join(' '), e.sentence];
    })));
  for (const e of explanations.slice(0, opts.figures)) {
    const fig = {
      title: `${e.id}: predicted ${e.predicted} (P(positive) = ${e.positive.toFixed(3)}); values: log-odds of ${e.explained}, mask ${opts.mask}`,
      tokens: e.tokens,
      className: e.explained,
      blocks: e.results.map((r) => ({
        heading: `${methodByName(r.method)!.label} (${r.estimator}${r.gap !== null ? `, ${r.method === 'ig' ? 'completeness' : 'efficiency'} gap ${r.gap.toExponential(1)}` : ''}): v(N) = ${r.vFull.toFixed(3)}, v(${r.method === 'ig' ? 'baseline' : 'empty'}) = ${r.vEmpty.toFixed(3)}`,
        values: r.values,
        se: r.se,
      })),
    };
    const base = `sentence-${e.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const svg = sentenceSvg(fig);
    await writeFileAtomic(path.join(opts.out, `${base}.svg`), svg);
    await writeFileAtomic(path.join(opts.out, `${base}.png`), await svgToPng(svg));
    await writeFileAtomic(path.join(opts.out, `${base}.html`), sentenceHtml(fig));
    files.push(`${base}.svg`, `${base}.png`, `${base}.html`);
  }
  if (faithfulness) {
    await writeCsv(path.join(opts.out, 'faithfulness.csv'), ['method', 'sentences', 'deletion_auc', 'deletion_se', 'insertion_auc', 'insertion_se', 'deletion_minus_random', 'deletion_minus_random_se', 'insertion_minus_random', 'insertion_minus_random_se', 'seconds_per_sentence'],
      faithfulness.methods.map((m) => [m.method, m.sentences, m.deletionAuc, m.deletionSe, m.insertionAuc, m.insertionSe, ...m.deletionVsRandom, ...m.insertionVsRandom, m.secondsPerSentence ?? '']));
    await writeCsv(path.join(opts.out, 'faithfulness_per_sentence.csv'), ['sentence_id', 'method', 'deletion_auc', 'insertion_auc'],
      faithfulness.perSentence.map((r) => [r.id, r.method, r.deletionAuc, r.insertionAuc]));
    files.push('faithfulness.csv', 'faithfulness_per_sentence.csv');
  }
  if (sanity) {
    await writeCsv(path.join(opts.out, 'sanity.csv'), ['method', 'sentences', 'mean_spearman', 'se'], sanity.map((m) => [m.method, m.sentences, m.meanSpearman, m.se]));
    files.push('sanity.csv');
  }
  printTable(log, explanations, faithfulness, sanity);
  const summary = {
    command: 'explain-text', backend: backend.name, model: opts.model, mask: opts.mask, out: opts.out,
    sentences: explanations.map((e) => ({
      id: e.id, tokens: e.tokens, truncated: e.truncated, positive: e.positive, predicted: e.predicted, explained: e.explained,
      methods: Object.fromEntries(e.results.map((r) => [r.method, {
        estimator: r.estimator, vFull: r.vFull, vEmpty: r.vEmpty, gap: r.gap, evaluations: r.evaluations, seconds: r.seconds,
        top: topWords(e.tokens, r.values), values: r.values, se: r.se,
      }])),
    })),
    ...(faithfulness ? { faithfulness: { ...faithfulness, perSentence: undefined } } : {}),
    ...(sanity ? { sanity } : {}),
    files,
  };
  return recorded(summary, files, { settings: { ...settings, model: opts.model, dataDir: opts.split ? opts.dataDir : undefined, split: opts.split, limit: opts.limit, file: opts.file, faithfulness: opts.faithfulness, sanity: opts.sanity, figures: opts.figures, out: opts.out } });
}

function printTable(log: ReturnType<typeof createLogger>, explanations: readonly SentenceExplanation[], faith?: FaithfulnessSummary, sanity?: SanityMethod[]): void {
  for (const e of explanations) {
    log.output(`${e.id}  P(positive) ${e.positive.toFixed(3)}  predicted ${e.predicted}, explaining log-odds of ${e.explained}  (${e.tokens.length} token${e.tokens.length === 1 ? '' : 's'}${e.truncated ? `, ${e.truncated} cut by maxLen` : ''})`);
    log.output(`  ${'method'.padEnd(9)} ${'estimator'.padEnd(11)} ${'v(N)'.padStart(8)} ${'v(empty)'.padStart(8)} ${'gap'.padStart(8)} ${'secs'.padStart(6)}  top + words / top - words (space-separated)`);
    for (const r of e.results) {
      const top = topWords(e.tokens, r.values);
      log.output(`  ${r.method.padEnd(9)} ${r.estimator.padEnd(11)} ${r.vFull.toFixed(3).padStart(8)} ${r.vEmpty.toFixed(3).padStart(8)} ${(r.gap === null ? '-' : r.gap.toExponential(1)).padStart(8)} ${r.seconds.toFixed(2).padStart(6)}  + ${top.positive.join(' ') || '-'} / - ${top.negative.join(' ') || '-'}`);
    }
  }
  if (faith) {
    log.output('');
    log.output(`faithfulness over ${faith.sentences} sentences (area under the probability of the explained class, mean +- s.e. over sentences; deletion lower = better, insertion higher = better)`);
    log.output(`  ${'method'.padEnd(9)} ${'deletion'.padStart(18)} ${'insertion'.padStart(18)} ${'del - random'.padStart(18)} ${'ins - random'.padStart(18)} ${'s/sentence'.padStart(10)}`);
    for (const m of faith.methods) {
      log.output(`  ${m.method.padEnd(9)} ${`${m.deletionAuc.toFixed(3)} +- ${m.deletionSe.toFixed(3)}`.padStart(18)} ${`${m.insertionAuc.toFixed(3)} +- ${m.insertionSe.toFixed(3)}`.padStart(18)} ${`${m.deletionVsRandom[0].toFixed(3)} +- ${m.deletionVsRandom[1].toFixed(3)}`.padStart(18)} ${`${m.insertionVsRandom[0].toFixed(3)} +- ${m.insertionVsRandom[1].toFixed(3)}`.padStart(18)} ${(m.secondsPerSentence === null ? '-' : m.secondsPerSentence.toFixed(3)).padStart(10)}`);
    }
  }
  if (sanity) {
    log.output('');
    log.output('sanity: Spearman rank correlation with the attributions of a randomly initialised model (near 0 = depends on the weights)');
    for (const m of sanity) log.output(`  ${m.method.padEnd(9)} ${m.meanSpearman.toFixed(3)} +- ${m.se.toFixed(3)}  (${m.sentences} sentences)`);
  }
}
