/**
 * A small seeded random number generator (mulberry32 for the stream, splitmix32 to spread the
 * seed), so that shuffles, sampling and initialisation are reproducible with --seed, and the one
 * rule for splitting a run's seed into independent streams: `deriveSeed(seed, ...path)`.
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
  const rng = createRng(LEGACY_STREAM_SEEDS.globalRandom(seed));
  Math.random = rng.next;
  return {
    rng,
    restore: () => {
      Math.random = original;
    },
  };
}

/** One 32-bit step of the murmur3 hash (fmix32 of the running value mixed with `k`). */
function mix32(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The seed of one random stream of a run: a 32-bit murmur3-style hash of the run's `seed` and
 * the stream's `path` (names and indices, e.g. `deriveSeed(42, 'explain-eval', 'digit', 1)`).
 * Distinct paths give unrelated seeds, so no two streams overlap the way `seed + i` does (seed
 * 42's stream 1 is seed 43's stream 0). Strings are hashed by their UTF-16 code units and a
 * number by its 32-bit value, each part closed by its length so that ('ab', 'c') != ('a', 'bc').
 * Use it for every new stream; LEGACY_STREAM_SEEDS lists the older ones kept as they were.
 */
export function deriveSeed(seed: number, ...path: (string | number)[]): number {
  let h = mix32(0x2545f491, seed >>> 0);
  for (const part of path) {
    if (typeof part === 'number') {
      if (!Number.isSafeInteger(part)) throw new Error(`deriveSeed: path parts must be whole numbers or strings, got ${part}`);
      h = mix32(h, part >>> 0);
      h = mix32(h, 0xffffffff); // marks a number (a string part's length is < 2^32 - 1)
    } else {
      for (let i = 0; i < part.length; i++) h = mix32(h, part.charCodeAt(i));
      h = mix32(h, part.length);
    }
  }
  return fmix32(h ^ path.length);
}

/**
 * The streams that predate deriveSeed, each written out once here. They stay as they are because
 * the published MNIST and SST-2 results (README) were trained with them: a different derivation
 * would change every weight. New streams use deriveSeed; do not add entries here.
 */
export const LEGACY_STREAM_SEEDS = {
  /** Math.random during a run (tfjs initialisers, dropout masks): seedGlobalRandom. */
  globalRandom: (seed: number): number => seed ^ 0x5bd1e995,
  /** train-mnist's augmentation shifts of one batch (depend only on seed, epoch and batch, so a resumed run draws the same ones). */
  mnistShifts: (seed: number, epoch: number, batch: number): number => seed * 1_000_003 + epoch * 10_007 + batch,
  /** SST-2 ensemble member k's initial weights (member 0 = the run's seed: an ensemble of one is the single network). */
  sst2Member: (seed: number, k: number): number => (seed + k * 1_000_003) % 2 ** 31,
  /** SST-2 subword vectors of a network (their own stream, so the other weights do not change with --subwords). */
  sst2Subwords: (networkSeed: number): number => (networkSeed + 7_654_321) % 2 ** 31,
} as const;
