/**
 * Interrupt loops: runs `train-mnist`, `sst2` and `sst2 repeat` on small data under a
 * pseudo-terminal (util-linux `script`) and presses Ctrl-C (writes ^C to the terminal, so the
 * line discipline sends SIGINT as it would for a person) at a seeded random moment of the run:
 * during start-up, training, evaluation, checkpoint or figure writing. A quarter of the tries
 * press it twice (the second press exits at once). Each interrupted run must exit 130 (or 0 if it
 * finished first), print no sanitizer, glibc or V8 crash report, and a run whose single ^C saved
 * a checkpoint must then finish with `--resume`.
 *
 *   node dist/scripts/interrupt_loop.js [--tries 20] [--commands train-mnist,sst2,sst2-repeat]
 *     [--seed 1] [--asan] [--keep DIR]
 *
 * --asan runs each dnnkit process with the sanitizer build of the native addon
 * (npm run build:native:asan) and libasan/libubsan preloaded. Exit code 1 when any try crashed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../src/core/rng.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'dnnkit.js');
export const ASAN_ADDON = path.join(ROOT, 'native', 'build-asan', 'build', 'Release', 'dnnkit_native.node');

/** What marks a crash in a run's terminal output. */
export const CRASH_PATTERNS = [
  /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/,
  /corrupted|double free|free\(\): invalid|malloc\(\)|munmap_chunk|Segmentation fault|Aborted|core dumped/,
  /FATAL ERROR|Fatal error in|Check failed|# Fatal/,
];

/** The environment that runs dnnkit on the sanitizer build (LD_PRELOAD of the gcc runtimes). */
export function asanEnv(): Record<string, string> {
  const lib = (name: string) => spawnSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' }).stdout.trim();
  return {
    LD_PRELOAD: `${lib('libasan.so')}:${lib('libubsan.so')}`,
    ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=1:symbolize=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    DNNKIT_NATIVE_ADDON: ASAN_ADDON,
  };
}

interface Job {
  name: string;
  /** dnnkit arguments for a fresh run into `out`. */
  args: (out: string, data: string) => string[];
  /** Arguments that resume it. */
  resume: (out: string) => string[];
  /** Seconds over which the ^C moment is drawn (about the run's length here). */
  window: number;
}

const JOBS: Job[] = [
  {
    name: 'train-mnist',
    args: (out) => ['train-mnist', '--epochs', '2', '--limit', '1500', '--out', out],
    resume: (out) => ['train-mnist', '--resume', out],
    window: 8,
  },
  {
    name: 'sst2',
    args: (out, data) => ['sst2', '--data-dir', data, '--ensemble', '2', '--epochs', '2', '--units', '16', '--embedding-dim', '16', '--embed-plot', 'none', '--out', out],
    resume: (out) => ['sst2', '--resume', out],
    window: 10,
  },
  {
    name: 'sst2-repeat',
    args: (out, data) => ['sst2', 'repeat', '--seeds', '1,2', '--data-dir', data, '--ensemble', '1', '--epochs', '2', '--units', '16', '--embedding-dim', '16', '--embed-plot', 'none', '--out', out],
    // The interrupted seed is the one to resume (the repeat says which); found after the run.
    resume: (out) => ['sst2', '--resume', out],
    window: 14,
  },
];

/** A small SST-2 subset (the first lines of each shipped split) in `dir`. */
function makeSst2Subset(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [split, n] of [['train', 300], ['dev', 100], ['test', 100]] as const) {
    const lines = readFileSync(path.join(ROOT, 'data', 'sst2', `${split}.tsv`), 'utf8').split('\n').slice(0, n);
    writeFileSync(path.join(dir, `${split}.tsv`), lines.join('\n') + '\n');
  }
  return dir;
}

interface Outcome { code: number | null; signal: string | null; output: string }

/** Runs dnnkit under a pseudo-terminal; presses ^C at each of `presses` (seconds from start). */
function runInTerminal(args: string[], env: Record<string, string>, presses: number[]): Promise<Outcome> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const envPrefix = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `${envPrefix ? `env ${envPrefix} ` : ''}${quoted}`, '/dev/null'], {
      cwd: ROOT, env: { ...process.env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timers = presses.map((t) => setTimeout(() => child.stdin.write('\x03'), t * 1000));
    const kill = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      timers.forEach(clearTimeout);
      clearTimeout(kill);
      resolve({ code, signal, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') }); // without colours and cursor moves
    });
  });
}

/** The folder an interrupted `sst2 repeat` says to resume, else `out`. */
function resumeTarget(job: Job, out: string, output: string): string {
  if (job.name !== 'sst2-repeat') return out;
  const m = /continue this one with dnnkit sst2 --resume (\S+)/.exec(output);
  return m ? m[1] : out;
}

export interface TryResult { job: string; delay: number; presses: number; code: number | null; crashed: boolean; checkpoint: boolean; resumed?: boolean; note: string }

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const tries = Number(opt('--tries', '20'));
  const names = opt('--commands', JOBS.map((j) => j.name).join(',')).split(',');
  const asan = argv.includes('--asan');
  if (asan && !existsSync(ASAN_ADDON)) {
    process.stderr.write(`interrupt_loop: ${ASAN_ADDON} is missing; build it with npm run build:native:asan\n`);
    process.exit(2);
  }
  const rng = createRng(Number(opt('--seed', '1')));
  const keep = argv.includes('--keep') ? opt('--keep', '') : '';
  const work = keep || mkdtempSync(path.join(tmpdir(), 'dnnkit-interrupts-'));
  const data = makeSst2Subset(path.join(work, 'sst2-data'));
  const env = asan ? asanEnv() : {};
  const results: TryResult[] = [];
  for (const job of JOBS.filter((j) => names.includes(j.name))) {
    for (let t = 0; t < tries; t++) {
      const out = path.join(work, `${job.name}-${t}`);
      rmSync(out, { recursive: true, force: true });
      const delay = 0.2 + rng.next() * job.window;
      const presses = rng.next() < 0.25 ? [delay, delay + 0.05 + rng.next() * 0.5] : [delay];
      const run = await runInTerminal(job.args(out, data), env, presses);
      const crashed = run.signal !== null || ![0, 130].includes(run.code ?? -1) || CRASH_PATTERNS.some((p) => p.test(run.output));
      const checkpoint = /checkpoint saved/.test(run.output);
      const r: TryResult = { job: job.name, delay: Number(delay.toFixed(2)), presses: presses.length, code: run.code, crashed, checkpoint, note: '' };
      if (crashed) {
        r.note = run.output.split('\n').filter((l) => CRASH_PATTERNS.some((p) => p.test(l)) || /error/i.test(l)).slice(0, 3).join(' | ');
        writeFileSync(path.join(work, `${job.name}-${t}.log`), run.output);
      } else if (run.code === 130 && presses.length === 1 && checkpoint) {
        // A single ^C during training saved a checkpoint: resuming it must finish. (Before
        // training starts, ^C exits 130 with nothing to resume.)
        const resumed = await runInTerminal(job.resume(resumeTarget(job, out, run.output)), env, []);
        const bad = resumed.code !== 0 || CRASH_PATTERNS.some((p) => p.test(resumed.output));
        r.resumed = !bad;
        if (bad) {
          r.crashed = true;
          r.note = `--resume exited ${resumed.code}: ${resumed.output.trim().split('\n').slice(-2).join(' | ')}`;
          writeFileSync(path.join(work, `${job.name}-${t}-resume.log`), resumed.output);
        }
      }
      results.push(r);
      process.stderr.write(`${job.name} try ${t + 1}/${tries}: ^C x${r.presses} at ${r.delay}s -> exit ${r.code}` +
        `${r.checkpoint ? ' (checkpoint)' : ''}${r.resumed !== undefined ? `, --resume ${r.resumed ? 'finished' : 'FAILED'}` : ''}${r.crashed ? `  CRASH ${r.note}` : ''}\n`);
    }
  }
  const crashes = results.filter((r) => r.crashed).length;
  const interrupted = results.filter((r) => r.code === 130).length;
  const checkpoints = results.filter((r) => r.checkpoint).length;
  const summary = { tries: results.length, interrupted, checkpoints, resumed: results.filter((r) => r.resumed).length, crashes, asan, work, results };
  writeFileSync(path.join(work, 'interrupts.json'), JSON.stringify(summary, null, 2));
  process.stdout.write(`interrupt loops${asan ? ' (AddressSanitizer + UBSan)' : ''}: ${results.length} tries, ${interrupted} exited 130 (${checkpoints} with a checkpoint), ` +
    `${summary.resumed} resumed to the end, ${crashes} crashed (details: ${path.join(work, 'interrupts.json')})\n`);
  if (!keep && crashes === 0) rmSync(work, { recursive: true, force: true });
  process.exit(crashes === 0 ? 0 : 1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
