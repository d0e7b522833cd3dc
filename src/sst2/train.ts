/**
 * `dnnkit sst2`: trains the LSTM sentiment classifier on SST-2 with Adam and early stopping on
 * dev accuracy, keeps the best-dev checkpoint, reports test accuracy on it, writes the curves,
 * the model, run.json, and the features of an intermediate layer with their 2-D projection.
 * The phases are in loop.ts (training), checkpoint.ts (--resume) and report.ts (outputs); this
 * file prepares the data and runs them.
 */
import * as path from 'node:path';
import { initBackend, type BackendInfo } from '../core/backend.js';
import { checkResumeOptions, refuseOrDiscardCheckpoint, removeCheckpoint } from '../core/checkpoint.js';
import { prepareOutDir } from '../core/fsutil.js';
import { watchInterrupts } from '../core/interrupt.js';
import { createLogger, type Logger } from '../core/log.js';
import { createRng, type Rng } from '../core/rng.js';
import { invalidateRunRecord } from '../core/run_record.js';
import { encodeSplit } from './batches.js';
import { readSst2Checkpoint } from './checkpoint.js';
import { CNN_FILTERS, CNN_WIDTHS } from './cnn.js';
import type { Sst2ModelConfig } from './config.js';
import { buildVocabulary, LAYOUTS, loadSst2, oovRate, SUBWORD_NGRAMS, tokenSubwords, type Sst2Data, type Vocabulary } from './data.js';
import { restoreTraining, saveCheckpoint, startTraining, disposeTraining, trainEpoch, endEpoch, type Sst2Training } from './loop.js';
import { runSettings, validateOptions, type Sst2RunOptions, type Sst2Summary } from './options.js';
import { evaluateKept, sst2Summary, writeMetricsCsv, writeSst2Record } from './report.js';

export { EARLY_STOPPINGS, SST2_DEFAULTS, validateOptions, describeModel, type EarlyStopping, type Sst2RunOptions, type Sst2Summary, type Sst2TrainOptions } from './options.js';

/** The options a run uses: the command line's, or with --resume the checkpoint's (conflicting options refused). */
async function resolveOptions(cliOpts: Sst2RunOptions): Promise<{ opts: Sst2RunOptions; resumed?: Awaited<ReturnType<typeof readSst2Checkpoint>> }> {
  if (cliOpts.resume === undefined) return { opts: cliOpts };
  const resumed = await readSst2Checkpoint(cliOpts.resume);
  // (Checkpoints from before --cnn had only LSTM networks, from before --subwords no subword vectors.)
  const saved = { cnn: 0, cnnFilters: CNN_FILTERS, subwords: 0, ...resumed.state.options };
  checkResumeOptions(cliOpts.resume, cliOpts.givenOptions, cliOpts as unknown as Record<string, unknown>, saved, resumed.outDir);
  const opts = {
    ...(saved as unknown as Sst2RunOptions), out: resumed.outDir, json: cliOpts.json, debug: cliOpts.debug, backend: cliOpts.backend,
    quiet: cliOpts.quiet, resume: undefined, restart: undefined, givenOptions: undefined,
  };
  return { opts, resumed };
}

/** The vocabulary of the training sentences (a random --train-limit subset drawn from `rng`), logged with its coverage of dev. */
function prepareVocabulary(opts: Sst2RunOptions, data: Sst2Data, rng: Rng, log: Logger) {
  const trainExamples = opts.trainLimit ? rng.shuffled(data.train.examples).slice(0, opts.trainLimit) : data.train.examples;
  const vocab = buildVocabulary(trainExamples, opts.minCount, opts.maxLen, opts.oovPrefix ?? 0, opts.subwords);
  log.info(`vocabulary ${vocab.tokens.length} words (min count ${opts.minCount}); max length ${vocab.maxLen} tokens; dev OOV ${(100 * oovRate(data.dev.examples, vocab)).toFixed(1)}%${vocab.oovPrefix > 0 ? ` (${(100 * oovRate(data.dev.examples, vocab, true)).toFixed(1)}% without a ${vocab.oovPrefix}-letter prefix entry)` : ''}`);
  if (opts.subwords > 0) {
    const unknown = data.dev.examples.flatMap((e) => e.tokens.filter((t) => !vocab.index.has(t)));
    const grams = unknown.map((t) => tokenSubwords(t, vocab).length);
    log.info(`subword vectors: ${vocab.subwords.length} character ${SUBWORD_NGRAMS.join('- to ')}-grams found in at least ${opts.subwords} training words; `
      + `${(100 * grams.filter((n) => n > 0).length / Math.max(1, unknown.length)).toFixed(1)}% of the unknown dev tokens have some (${(grams.reduce((a, n) => a + n, 0) / Math.max(1, unknown.length)).toFixed(1)} on average)`);
  }
  return { trainExamples, vocab };
}

/** The architecture the options describe, for a vocabulary. */
function modelConfig(opts: Sst2RunOptions, vocab: Vocabulary): Sst2ModelConfig {
  return {
    vocabSize: vocab.tokens.length, embeddingDim: opts.embeddingDim, units: opts.units,
    layers: opts.layers, bidirectional: opts.bidirectional, dropout: opts.dropout, pooling: opts.pooling,
    ...(opts.ensemble !== 1 || opts.cnn > 0 ? { members: opts.ensemble } : {}),
    ...(opts.cnn > 0 ? { cnnMembers: opts.cnn, cnnFilters: opts.cnnFilters, cnnWidths: [...CNN_WIDTHS] } : {}),
    ...(vocab.subwords.length > 0 ? { subwords: vocab.subwords.length } : {}),
  };
}

/**
 * Trains epochs until the last or early stopping, writing metrics.csv after each. Returns false
 * when an interrupt stopped the run: a checkpoint was saved and the command to continue logged.
 */
async function trainEpochs(run: Sst2Training, outDir: string, log: Logger, checkBatch: (count: number) => void): Promise<boolean> {
  const interrupts = watchInterrupts(log);
  try {
    let resumedEpoch = run.resumeRng !== undefined;
    while (run.state.epoch <= run.opts.epochs) {
      const { plan, finished } = await trainEpoch(run, interrupts, resumedEpoch ? checkBatch : () => {});
      resumedEpoch = false;
      if (!finished) {
        const ckpt = await saveCheckpoint(run, outDir);
        const resumeCmd = `dnnkit sst2 --resume ${path.relative(process.cwd(), outDir) || '.'}`;
        log.warn(`interrupted at epoch ${run.state.epoch}, batch ${run.state.batch}/${plan.memberBatches[0].length}: checkpoint saved in ${ckpt}; continue with: ${resumeCmd}`);
        return false;
      }
      const stop = await endEpoch(run, plan, log);
      await writeMetricsCsv(outDir, run.state.rows, run.perNetwork ? run.nets.length : undefined);
      if (stop) break;
    }
    return true;
  } finally {
    interrupts.dispose();
  }
}

/** Trains, evaluates, saves and projects; returns the --json summary. */
export async function runSst2(cliOpts: Sst2RunOptions): Promise<Sst2Summary> {
  const started = Date.now();
  const { opts, resumed } = await resolveOptions(cliOpts);
  validateOptions(opts);
  const log = createLogger(opts.json || opts.quiet);
  const data = await loadSst2(opts.dataDir);
  const outDir = await prepareOutDir(opts.out);
  // An interrupted run's checkpoint is kept unless --restart; the previous run's record goes
  // before any output is replaced (run.json is written last).
  if (!resumed) await refuseOrDiscardCheckpoint(outDir, { outArg: opts.out, command: 'dnnkit sst2', restart: opts.restart });
  await invalidateRunRecord(outDir);
  const backend: BackendInfo = await initBackend(opts.backend);
  log.info(`backend ${backend.name}: ${backend.reason}`);
  log.info(`data ${opts.dataDir}: ${data.layout} layout, ${LAYOUTS[data.layout]}; train ${data.train.examples.length}, dev ${data.dev.examples.length}, test ${data.test.examples.length}${data.test.labelled ? '' : ' (unlabelled: no test accuracy)'}`);

  // The run's one random stream (the seed itself): the --train-limit subset, then every epoch's draws.
  const rng = createRng(opts.seed);
  const { trainExamples, vocab } = prepareVocabulary(opts, data, rng, log);
  const [train, dev, test] = [trainExamples, data.dev.examples, data.test.examples].map((e) => encodeSplit(e, vocab));
  const config = modelConfig(opts, vocab);
  const run = startTraining(opts, { config, vocab, settings: runSettings(opts, vocab.maxLen), train, dev }, outDir, rng);
  let finished: boolean;
  try {
    if (resumed) {
      await restoreTraining(run, resumed.state, resumed.tensors, cliOpts.resume!);
      log.info(`resuming at epoch ${run.state.epoch}, batch ${run.state.batch + 1}`);
    }
    finished = await trainEpochs(run, outDir, log, (count) => resumed?.checker.int('batch', 0, count));
  } finally {
    disposeTraining(run);
  }
  if (!finished) {
    process.exitCode = 130;
    return sst2Summary(run, data, backend, outDir, started);
  }
  await removeCheckpoint(outDir);
  const final = await evaluateKept(outDir, opts, { dev, test, testLabelled: data.test.labelled }, run.nets.length, log);
  const summary = sst2Summary(run, data, backend, outDir, started, final);
  await writeSst2Record(run, data, trainExamples.length, backend, outDir, summary);
  log.result(`best epoch ${run.state.best.epoch}: dev accuracy ${(100 * summary.devAccuracy).toFixed(2)}%${final.test ? `, test accuracy ${(100 * final.test.acc).toFixed(2)}%` : ''} -> ${outDir}`);
  return summary;
}
