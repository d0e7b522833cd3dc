/**
 * Interleaved 1- vs N-thread benchmark of the wasm backend (each run a fresh process, order
 * alternating every round), with a bitwise comparison of every run's outputs to the first
 * 1-thread run's:
 *   node dist/scripts/probe/threads_compare.js [--rounds 3] [--threads 2] [--workloads mnist,resnet18]
 *        [--reps 3] [--batch-resnet18 16] [--batch-vgg16 4] [--nice 10]
 * Prints per-run lines on stderr and a JSON summary (medians) on stdout. On a loaded machine the
 * wall-clock ratio says little; `idleSpeedupEstimate` compares the CPU time of the busiest thread
 * per rep (Linux /proc), the wall time the work would need on idle cores.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const rounds = Number(arg('rounds', '3'));
const threads = Number(arg('threads', '2'));
const workloads = arg('workloads', 'mnist,resnet18').split(',');
const reps = arg('reps', '3');
const niceness = arg('nice', '10');
const bench = path.join(path.dirname(fileURLToPath(import.meta.url)), 'threads_bench.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dnnkit-threads-'));

interface Run { workload: string; threads: number; initMs: number; wallMs: number[]; cpuMs: number[]; perThreadCpuMs: number[]; throughput: number[]; unit: string; rssMB: number }
const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const maxAbsDiff = (a: string, b: string) => {
  const x = new Float32Array(new Uint8Array(fs.readFileSync(a)).buffer);
  const y = new Float32Array(new Uint8Array(fs.readFileSync(b)).buffer);
  if (x.length !== y.length) return Infinity;
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
};

const summary: Record<string, unknown> = {};
for (const workload of workloads) {
  const runs: Record<number, Run[]> = { 1: [], [threads]: [] };
  const diffs: number[] = [];
  let reference: string | undefined;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [1, threads] : [threads, 1];
    for (const t of order) {
      const dump = path.join(tmp, `${workload}-${t}-${r}.f32`);
      const extra = workload === 'mnist' ? [] : ['--batch', arg(`batch-${workload}`, workload === 'vgg16' ? '4' : '16')];
      const res = spawnSync('nice', ['-n', niceness, process.execPath, bench, '--threads', String(t), '--workload', workload, '--reps', reps, '--dump', dump, ...extra], { encoding: 'utf8', timeout: 20 * 60_000 });
      if (res.status !== 0) throw new Error(`${workload} ${t} threads failed (${res.status ?? res.signal}): ${res.stderr}`);
      const run = JSON.parse(res.stdout.trim().split('\n').pop() as string) as Run;
      runs[t].push(run);
      if (reference === undefined && t === 1) reference = dump;
      if (reference !== undefined && dump !== reference) diffs.push(maxAbsDiff(reference, dump));
      console.error(`${workload} round ${r} threads ${run.threads}: init ${run.initMs} ms, ${run.throughput.map((v) => v.toFixed(1)).join(' ')} ${run.unit}, wall ${run.wallMs.join(' ')} ms, cpu ${run.cpuMs.join(' ')} ms, busiest threads ${(run.perThreadCpuMs ?? []).join(" ")} ms, rss ${run.rssMB} MB`);
    }
  }
  const stats = (t: number) => ({
    threads: runs[t][0].threads,
    medianThroughput: median(runs[t].flatMap((x) => x.throughput)),
    medianWallMs: median(runs[t].flatMap((x) => x.wallMs)),
    medianCpuMs: median(runs[t].flatMap((x) => x.cpuMs)),
    /** Per rep: CPU of the busiest thread (a lower bound of the wall time on an idle machine). */
    medianBusiestThreadCpuMsPerRep: median(runs[t].map((x) => (x.perThreadCpuMs?.[0] ?? NaN) / x.wallMs.length)),
    medianSecondThreadCpuMsPerRep: median(runs[t].map((x) => (x.perThreadCpuMs?.[1] ?? NaN) / x.wallMs.length)),
    medianInitMs: median(runs[t].map((x) => x.initMs)),
    medianRssMB: median(runs[t].map((x) => x.rssMB)),
    unit: runs[t][0].unit,
  });
  const one = stats(1); const many = stats(threads);
  summary[workload] = { [`t1`]: one, [`t${threads}`]: many, speedup: many.medianThroughput / one.medianThroughput,
    idleSpeedupEstimate: one.medianBusiestThreadCpuMsPerRep / many.medianBusiestThreadCpuMsPerRep, maxAbsDiffVsFirst1Thread: Math.max(0, ...diffs), runs: rounds };
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify({ date: new Date().toISOString(), loadavg: os.loadavg(), ...summary }, null, 1));
