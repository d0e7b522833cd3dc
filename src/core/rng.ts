/**
 * A small seeded random number generator (mulberry32 for the stream, splitmix32 to spread the
 * seed), so that shuffles, sampling and initialisation are reproducible with --seed.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Shuffles a copy of `items` (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[];
  /** A permutation of 0..n-1. */
  permutation(n: number): number[];
  /** The generator's internal state (to checkpoint and resume a stream exactly). */
  getState(): number;
  setState(state: number): void;
}

function splitmix32(a: number): number {
  a = (a + 0x9e3779b9) | 0;
  let t = a ^ (a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

/** Creates a generator from an integer seed. */
export function createRng(seed: number): Rng {
  let state = splitmix32(seed >>> 0);
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const shuffled = <T>(items: readonly T[]): T[] => {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return {
    next,
    int,
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    shuffled,
    permutation: (n: number) => shuffled(Array.from({ length: n }, (_, i) => i)),
    getState: () => state,
    setState: (st: number) => {
      state = st | 0;
    },
  };
}

/**
 * Makes Math.random deterministic for the rest of the process. tfjs draws the seeds of its
 * unseeded random ops (weight initialisers, dropout masks) from Math.random; a fixed per-layer
 * seed would repeat the same dropout mask on every batch, so seeding this one source is what
 * makes a whole training run reproducible with --seed. Returns the generator (its state can be
 * checkpointed) and a function restoring the original Math.random.
 */
export function seedGlobalRandom(seed: number): { rng: Rng; restore: () => void } {
  const original = Math.random;
  const rng = createRng(seed ^ 0x5bd1e995);
  Math.random = rng.next;
  return {
    rng,
    restore: () => {
      Math.random = original;
    },
  };
}
