/**
 * Runs scripts/torch_fixtures.py (the PyTorch oracle) into a temporary folder, once per process and
 * arch: a seeded random-init torchvision checkpoint, preprocessed inputs and PyTorch's logits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../helpers.js';

export interface TorchFixture {
  dir: string;
  arch: 'resnet18' | 'vgg16';
  n: number;
  images: string[];
  checkpoint: string;
  legacyCheckpoint?: string;
  /** [n, 224, 224, 3] NHWC, torchvision-preprocessed. */
  inputs: Float32Array;
  /** [n, 1000] PyTorch logits. */
  logits: Float32Array;
  logitAbsMax: number;
}

const cache = new Map<string, Promise<TorchFixture>>();
let root: string | undefined;

function f32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Generates (once) the fixture of `arch` with python `py`; removed when the process exits. */
export function torchFixture(py: string, arch: 'resnet18' | 'vgg16', opts: { images?: string[]; noise?: number; legacy?: boolean; variants?: boolean } = {}): Promise<TorchFixture> {
  const key = `${arch}`;
  if (!cache.has(key)) {
    if (!root) {
      root = mkdtempSync(path.join(tmpdir(), 'dnnkit-torch-fx-'));
      const dir = root;
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    const dir = root;
    const args = [path.join(ROOT, 'scripts', 'torch_fixtures.py'), '--arch', arch, '--out', dir, '--noise', String(opts.noise ?? 1)];
    if (opts.images?.length) args.push('--images', ...opts.images);
    if (opts.legacy) args.push('--legacy');
    if (opts.variants) args.push('--variants');
    cache.set(key, new Promise<TorchFixture>((resolve, reject) => {
      const child = spawn(py, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.stdout.resume();
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`torch_fixtures.py ${arch} failed (${code}): ${err.slice(-2000)}`));
        const meta = JSON.parse(readFileSync(path.join(dir, `${arch}.json`), 'utf8'));
        resolve({
          dir, arch, n: meta.n, images: meta.images,
          checkpoint: path.join(dir, meta.checkpoint),
          legacyCheckpoint: meta.legacyCheckpoint ? path.join(dir, meta.legacyCheckpoint) : undefined,
          inputs: f32(path.join(dir, meta.inputs)),
          logits: f32(path.join(dir, meta.logits)),
          logitAbsMax: meta.logitAbsMax,
        });
      });
    }));
  }
  return cache.get(key)!;
}
