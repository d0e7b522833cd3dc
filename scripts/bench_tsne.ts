/**
 * t-SNE benchmark: dnnkit's tsne() against scikit-learn's TSNE on the same seeded 64-d data,
 * alternating runs, same settings (perplexity 30, 1000 iterations, PCA init, learning rate 'auto',
 * theta 0.5). Reports seconds, the ratio sklearn_seconds / dnnkit_seconds (>= 1: dnnkit is faster)
 * and the trustworthiness (k = 10) of both embeddings, computed by the same code.
 *
 *   node dist/scripts/bench_tsne.js [--sizes 5000,20000] [--repeats 1] [--threads 1] [--dim 64] [--no-sklearn] [--json FILE]
 *
 * The data: a mixture of 10 Gaussian clusters in 64-d whose covariances are low-rank plus noise
 * (rank 8 plus isotropic noise of std 0.5), the shape of learned feature vectors; centres ~ N(0, 3^2 I).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../src/core/rng.js';
import { trustworthinessMany } from '../src/project/metrics.js';
import { TSNE_DEFAULTS, tsne } from '../src/project/tsne.js';
import { findPython, median } from './bench_util.js';

export interface BenchTsneOptions {
  /** Point counts to run, e.g. [5000, 20000]. */
  sizes: number[];
  /** Input dimension (64 in issue 6). */
  dim: number;
  /** Runs per size and side; the reported time is the median. */
  repeats: number;
  /** Run scikit-learn too (needs a python3 with sklearn). */
  sklearn: boolean;
  /**
   * Threads for both sides: dnnkit's tsne({threads}), scikit-learn's n_jobs and OMP_NUM_THREADS.
   * Default 1: on a shared, oversubscribed machine scikit-learn's OpenMP threads spin at barriers
   * and its 2-thread times balloon, which would flatter the ratio.
   */
  threads: number;
  seed: number;
  /** Progress lines go here (stderr by default). */
  log: (line: string) => void;
}

export interface BenchTsneRow {
  workload: string;
  points: number;
  dim: number;
  /** Wall-clock seconds (median over repeats). */
  dnnkitSeconds: number;
  sklearnSeconds: number | null;
  /** CPU seconds of all threads (median); a steadier measure on a shared machine. */
  dnnkitCpuSeconds: number;
  sklearnCpuSeconds: number | null;
  /** Threads dnnkit used. */
  dnnkitThreads: number;
  /** sklearnSeconds / dnnkitSeconds: >= 1 means dnnkit is at least as fast. */
  ratio: number | null;
  dnnkitTrustworthiness: number;
  sklearnTrustworthiness: number | null;
  sklearnVersion: string | null;
  sklearnThreads: number | null;
}

export const BENCH_TSNE_DEFAULTS: BenchTsneOptions = {
  sizes: [5000, 20000],
  dim: 64,
  repeats: 1,
  sklearn: true,
  threads: 1,
  seed: 42,
  log: (line) => process.stderr.write(line + '\n'),
};

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'sklearn_tsne.py');

/** Seeded Gaussian mixture: 10 clusters, each centre + rank-8 factor loadings + isotropic noise. */
export function makeMixture(n: number, dim: number, seed: number): { points: Float64Array[]; labels: number[] } {
  const rng = createRng(seed);
  const clusters = 10;
  const rank = Math.min(8, dim);
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: dim }, () => 3 * rng.normal()));
  const loadings = Array.from({ length: clusters }, () => Float64Array.from({ length: dim * rank }, () => rng.normal() / Math.sqrt(rank) * 2));
  const points: Float64Array[] = [];
  const labels: number[] = [];
  const z = new Float64Array(rank);
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters);
    for (let r = 0; r < rank; r++) z[r] = rng.normal();
    const p = new Float64Array(dim);
    for (let d = 0; d < dim; d++) {
      let s = centres[c][d] + 0.5 * rng.normal();
      for (let r = 0; r < rank; r++) s += loadings[c][d * rank + r] * z[r];
      p[d] = s;
    }
    points.push(p);
    labels.push(c);
  }
  return { points, labels };
}


/** Runs the benchmark and returns one row per size. */
export async function benchTsne(options: Partial<BenchTsneOptions> = {}): Promise<BenchTsneRow[]> {
  const o = { ...BENCH_TSNE_DEFAULTS, ...options };
  const py = o.sklearn ? (findPython('sklearn') ?? null) : null;
  if (o.sklearn && !py) o.log('bench_tsne: no python3 with scikit-learn found; running dnnkit only');
  const tmp = mkdtempSync(path.join(tmpdir(), 'dnnkit-bench-tsne-'));
  const rows: BenchTsneRow[] = [];
  try {
    for (const n of o.sizes) {
      const { points } = makeMixture(n, o.dim, o.seed);
      const inFile = path.join(tmp, `x${n}.f64`);
      const outFile = path.join(tmp, `y${n}.f64`);
      const flat = new Float64Array(n * o.dim);
      points.forEach((p, i) => flat.set(p, i * o.dim));
      writeFileSync(inFile, Buffer.from(flat.buffer));

      const ours: number[] = [];
      const theirs: number[] = [];
      const oursCpu: number[] = [];
      const theirsCpu: number[] = [];
      let yOurs: Float64Array = new Float64Array(0);
      let yTheirs: Float64Array | null = null;
      let version: string | null = null;
      let threads: number | null = null;
      const runOurs = () => {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        yOurs = tsne(points, { ...TSNE_DEFAULTS, seed: o.seed, threads: o.threads });
        const c1 = process.cpuUsage(c0);
        ours.push((performance.now() - t0) / 1000);
        oursCpu.push((c1.user + c1.system) / 1e6);
        o.log(`bench_tsne: n=${n} dnnkit ${ours[ours.length - 1].toFixed(2)} s (cpu ${oursCpu[oursCpu.length - 1].toFixed(2)} s, ${o.threads} threads)`);
      };
      const runTheirs = () => {
        const env = { ...process.env, OMP_NUM_THREADS: String(o.threads) };
        const args = [SCRIPT, inFile, String(n), String(o.dim), outFile, '--n-jobs', String(o.threads), '--seed', String(o.seed)];
        const r = spawnSync(py!, args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
        if (r.status !== 0) throw new Error(`sklearn_tsne.py failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`);
        const info = JSON.parse(r.stdout.trim().split('\n').pop()!);
        theirs.push(info.seconds);
        theirsCpu.push(info.cpu_seconds);
        version = info.sklearn;
        threads = info.threads;
        const buf = readFileSync(outFile);
        yTheirs = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8).slice();
        o.log(`bench_tsne: n=${n} sklearn ${info.seconds.toFixed(2)} s (cpu ${info.cpu_seconds.toFixed(2)} s, ${info.threads} threads)`);
      };
      for (let r = 0; r < o.repeats; r++) {
        // alternate the order so neither side always runs on a warmer (or busier) machine
        if (r % 2 === 0) {
          runOurs();
          if (py) runTheirs();
        } else {
          if (py) runTheirs();
          runOurs();
        }
      }
      const rowsOf = (y: Float64Array) => Array.from({ length: n }, (_, i) => y.subarray(2 * i, 2 * i + 2));
      const lows = [rowsOf(yOurs)];
      if (yTheirs) lows.push(rowsOf(yTheirs));
      const t0 = performance.now();
      const trust = trustworthinessMany(points, lows, 10);
      o.log(`bench_tsne: n=${n} trustworthiness computed in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      const dn = median(ours);
      const sk = theirs.length ? median(theirs) : null;
      rows.push({
        workload: `t-SNE ${n}x${o.dim}`,
        points: n,
        dim: o.dim,
        dnnkitSeconds: dn,
        sklearnSeconds: sk,
        dnnkitCpuSeconds: median(oursCpu),
        sklearnCpuSeconds: theirsCpu.length ? median(theirsCpu) : null,
        dnnkitThreads: o.threads,
        ratio: sk === null ? null : sk / dn,
        dnnkitTrustworthiness: trust[0],
        sklearnTrustworthiness: trust.length > 1 ? trust[1] : null,
        sklearnVersion: version,
        sklearnThreads: threads,
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}

/** Markdown table of the rows. */
export function formatTsneTable(rows: BenchTsneRow[]): string {
  const f = (v: number | null, d: number) => (v === null ? 'n/a' : v.toFixed(d));
  const lines = [
    '| workload | threads | dnnkit s | sklearn s | ratio sklearn/dnnkit | dnnkit cpu s | sklearn cpu s | trust. dnnkit | trust. sklearn |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.workload} | ${r.dnnkitThreads} | ${f(r.dnnkitSeconds, 1)} | ${f(r.sklearnSeconds, 1)} | ${f(r.ratio, 2)} | ${f(r.dnnkitCpuSeconds, 1)} | ${f(r.sklearnCpuSeconds, 1)} | ${f(r.dnnkitTrustworthiness, 4)} | ${f(r.sklearnTrustworthiness, 4)} |`,
    );
  }
  return lines.join('\n');
}

function parseArgs(argv: string[]): { opts: Partial<BenchTsneOptions>; json: string | null } {
  const opts: Partial<BenchTsneOptions> = {};
  let json: string | null = null;
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a];
    const next = () => {
      const v = argv[++a];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--sizes') opts.sizes = next().split(',').map((s) => Number.parseInt(s, 10));
    else if (arg === '--repeats') opts.repeats = Number.parseInt(next(), 10);
    else if (arg === '--dim') opts.dim = Number.parseInt(next(), 10);
    else if (arg === '--threads') opts.threads = Number.parseInt(next(), 10);
    else if (arg === '--seed') opts.seed = Number.parseInt(next(), 10);
    else if (arg === '--no-sklearn') opts.sklearn = false;
    else if (arg === '--json') json = next();
    else throw new Error(`unknown argument ${arg}; see the header of scripts/bench_tsne.ts`);
  }
  return { opts, json };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { opts, json } = parseArgs(process.argv.slice(2));
  const rows = await benchTsne(opts);
  console.log(formatTsneTable(rows));
  if (json) writeFileSync(json, JSON.stringify({ command: `node dist/scripts/bench_tsne.js ${process.argv.slice(2).join(' ')}`, rows }, null, 2) + '\n');
}
