/**
 * The SST-2 sentence behind each row of an sst2 run's features.csv (ids `<split>-<row>`, rows
 * of dev.tsv / test.tsv in the run's data folder) and the model's P(positive) for it: read
 * from features.csv when it has a probability column, otherwise computed with the run's saved
 * model (model/), which is the model that wrote features.csv.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pickFirst, type RunFolder } from './run_folder.js';

/** What a projection tooltip shows for one sentence. */
export interface SentenceInfo {
  sentence: string;
  /** P(positive) under the run's model, or null when it could not be computed. */
  probability: number | null;
}

/** Probability columns features.csv may carry (P(positive)). */
const PROBABILITY_COLUMNS = ['probability', 'p_positive', 'positive', 'prob'];

/** The result of looking sentences up: by id, and a note for the page on where the numbers came from. */
export interface SentenceLookup {
  byId: Map<string, SentenceInfo>;
  note: string;
}

/** The run's SST-2 data folder (settings.dataDir, or the data block of its record). */
export function sst2DataDir(run: RunFolder): string | null {
  const dir = pickFirst(run.record, ['settings', 'dataDir'], ['data', 'dir'], ['result', 'data', 'dir']);
  return typeof dir === 'string' && existsSync(dir) ? dir : null;
}

/**
 * Sentences and probabilities for `ids` (features.csv ids). `probabilities` are values already
 * in features.csv by id (empty when it has none). Never throws: what cannot be read is left out
 * and said in `note`.
 */
export async function lookUpSentences(run: RunFolder, ids: readonly string[], probabilities: ReadonlyMap<string, number>): Promise<SentenceLookup> {
  const byId = new Map<string, SentenceInfo>();
  const dataDir = sst2DataDir(run);
  if (!dataDir) return { byId, note: 'the SST-2 data folder of the run was not found, so the tooltips show no sentences' };
  let tokensById: Map<string, string[]>;
  try {
    const { loadSst2 } = await import('../sst2/data.js');
    const data = await loadSst2(dataDir);
    tokensById = new Map([...data.dev.examples, ...data.test.examples, ...data.train.examples].map((e) => [e.id, e.tokens]));
  } catch (err) {
    return { byId, note: `the SST-2 data in ${dataDir} could not be read (${(err as Error).message})` };
  }
  const wanted = ids.filter((id) => tokensById.has(id));
  let probs = probabilities;
  let note = `sentences from ${dataDir}; P(positive) from features.csv`;
  if (probs.size === 0) {
    const computed = await predictWithSavedModel(run, wanted.map((id) => tokensById.get(id)!));
    if (computed.probs) {
      probs = new Map(wanted.map((id, i) => [id, computed.probs![i]]));
      note = `sentences from ${dataDir}; P(positive) computed for the report with the run's saved model (${computed.backend} backend)`;
    } else {
      note = `sentences from ${dataDir}; no P(positive): ${computed.reason}`;
    }
  }
  for (const id of wanted) byId.set(id, { sentence: tokensById.get(id)!.join(' '), probability: probs.get(id) ?? null });
  return { byId, note };
}

/** The probability column of features.csv, if it has one. */
export function probabilityColumn(columns: readonly string[]): string | undefined {
  return PROBABILITY_COLUMNS.find((c) => columns.includes(c));
}

/** P(positive) of each tokenised sentence under the run's model/ folder (the backend is started if none is). */
async function predictWithSavedModel(run: RunFolder, sentences: string[][]): Promise<{ probs?: Float32Array; backend?: string; reason?: string }> {
  const modelDir = path.join(run.dir, 'model');
  if (!existsSync(path.join(modelDir, 'model.json'))) return { reason: 'the run folder has no saved model (model/)' };
  try {
    const [{ currentBackend, initBackend }, { loadClassifier }, { encodeSentences }, { predictSplit }] = await Promise.all([
      import('../core/backend.js'), import('../sst2/saved.js'), import('../sst2/data.js'), import('../sst2/evaluate.js'),
    ]);
    const backend = currentBackend() ?? (await initBackend());
    const { model, vocab } = await loadClassifier(modelDir);
    try {
      const { probs } = await predictSplit(model, encodeSentences(sentences, vocab), 128);
      return { probs, backend: backend.name };
    } finally {
      model.dispose();
    }
  } catch (err) {
    return { reason: `the saved model could not be run (${(err as Error).message})` };
  }
}
