/**
 * run.json, the record of a finished run: its settings, backend, versions and results, and the
 * byte size and SHA-256 of every output file it describes (`files`). A run that writes into an
 * --out holding a previous run's record removes that record before it writes anything else, and
 * writes its own last, so that at any moment run.json either describes the files beside it or
 * does not exist (a kill mid-run leaves no record claiming another run's accuracy).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileDigest, syncPath, writeFileAtomic } from './fsutil.js';

export const RUN_JSON = 'run.json';

/**
 * Removes the previous run's record from `outDir` (run.json and `others`, e.g. a summary that
 * describes the same files), before a new run writes its outputs there.
 */
export async function invalidateRunRecord(outDir: string, others: readonly string[] = []): Promise<void> {
  let removed = false;
  for (const name of [RUN_JSON, ...others]) {
    const file = path.join(outDir, name);
    if (await fsp.stat(file).catch(() => undefined)) {
      await fsp.rm(file, { force: true });
      removed = true;
    }
  }
  if (removed) await syncPath(outDir);
}

/**
 * Writes `name` (default run.json) in `outDir` last: `record` plus `files`, the byte size and
 * SHA-256 of each output (paths relative to outDir) that exists, flushed to disk first.
 */
export async function writeRunRecord(outDir: string, record: object, files: readonly string[], name = RUN_JSON): Promise<void> {
  const digests: Record<string, { bytes: number; sha256: string }> = {};
  for (const f of [...new Set(files)].sort()) {
    if (!(await fsp.stat(path.join(outDir, f)).catch(() => undefined))?.isFile()) continue; // an output this run did not write
    await syncPath(path.join(outDir, f));
    digests[f] = await fileDigest(path.join(outDir, f));
  }
  await writeFileAtomic(path.join(outDir, name), JSON.stringify({ ...record, files: digests }, null, 2) + '\n', { sync: true });
}
