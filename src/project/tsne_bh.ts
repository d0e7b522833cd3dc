/**
 * Barnes-Hut repulsive forces of 2-D t-SNE (van der Maaten 2014, section 4.2).
 *
 * The quadtree is rebuilt every iteration without any node objects or pointer chasing:
 *  - points are sorted by their Morton (Z-order) code on a 2^16 x 2^16 grid over the bounding
 *    square (LSD radix sort), so every quadtree cell is a contiguous range of sorted points and
 *    its centre of mass comes from prefix sums;
 *  - nodes are written in depth-first pre-order into one Float64Array (8 numbers = one cache
 *    line per node), each with a `skip` index to the node after its subtree, so a traversal is a
 *    forward scan: descend = next node, summarise or finish a leaf = jump to `skip`;
 *  - chains of cells with a single non-empty child are collapsed; leaves hold up to LEAF_SIZE
 *    points whose interactions are computed exactly.
 * A cell of side w is summarised by its centre of mass for a point at squared distance d2 when
 * w^2 < theta^2 d2, scikit-learn's criterion (_QuadTree.summarize).
 */

/** Leaves keep at most this many points (interacting exactly with a nearby query). */
const LEAF_SIZE = 4;
/** Bits of the Morton grid per axis. */
const BITS = 16;
/** Numbers per node in `nodes`. */
export const NODE_STRIDE = 8;
// node fields
const COM_X = 0, COM_Y = 1, COUNT = 2, OPEN_D2 = 3, SKIP = 4, LEAF_A = 5, LEAF_B = 6;

/** Buffers of one tree, reused across iterations; all fields are flat typed arrays. */
export class QuadTree {
  n = 0;
  /** Number of nodes in `nodes`. */
  size = 0;
  /** [size, NODE_STRIDE] node records (see the field offsets above). */
  nodes: Float64Array;
  /** Point ids in Morton order. */
  ids: Int32Array;
  /** Coordinates in Morton order. */
  sx: Float64Array;
  sy: Float64Array;
  private keys: Uint32Array;
  private keys2: Uint32Array;
  private ids2: Int32Array;
  private px: Float64Array;
  private py: Float64Array;
  private counts = new Int32Array(256);
  private openScale = 0;

  /**
   * @param n number of points
   * @param buffer optional storage (e.g. a SharedArrayBuffer) for `nodes`, `ids`, `sx`, `sy`,
   *   laid out as returned by `QuadTree.bytesFor(n)`, so worker threads can read the tree.
   */
  constructor(n: number, buffer?: ArrayBufferLike) {
    this.n = n;
    const maxNodes = 2 * n + 16;
    const buf = buffer ?? new ArrayBuffer(QuadTree.bytesFor(n));
    let off = 0;
    this.nodes = new Float64Array(buf, off, maxNodes * NODE_STRIDE);
    off += maxNodes * NODE_STRIDE * 8;
    this.sx = new Float64Array(buf, off, n);
    off += n * 8;
    this.sy = new Float64Array(buf, off, n);
    off += n * 8;
    this.ids = new Int32Array(buf, off, n);
    this.keys = new Uint32Array(n);
    this.keys2 = new Uint32Array(n);
    this.ids2 = new Int32Array(n);
    this.px = new Float64Array(n + 1);
    this.py = new Float64Array(n + 1);
  }

  /** Read-only views of a tree built by another thread into `buffer` (see the constructor). */
  static views(n: number, buffer: ArrayBufferLike): { nodes: Float64Array; sx: Float64Array; sy: Float64Array; ids: Int32Array } {
    const maxNodes = 2 * n + 16;
    let off = 0;
    const nodes = new Float64Array(buffer, off, maxNodes * NODE_STRIDE);
    off += maxNodes * NODE_STRIDE * 8;
    const sx = new Float64Array(buffer, off, n);
    off += n * 8;
    const sy = new Float64Array(buffer, off, n);
    off += n * 8;
    return { nodes, sx, sy, ids: new Int32Array(buffer, off, n) };
  }

  /** Bytes of the shared part (nodes, sorted coordinates, ids) for n points. */
  static bytesFor(n: number): number {
    return (2 * n + 16) * NODE_STRIDE * 8 + 2 * n * 8 + 4 * n + 8;
  }

  /** Builds the tree over `y` ([n, 2] row-major) for opening angle `theta`. */
  build(y: Float64Array, theta: number): void {
    const n = this.n;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const a = y[2 * i], b = y[2 * i + 1];
      if (a < minX) minX = a;
      if (a > maxX) maxX = a;
      if (b < minY) minY = b;
      if (b > maxY) maxY = b;
    }
    const side = Math.max(maxX - minX, maxY - minY) * (1 + 1e-9) + 1e-300;
    const scale = (1 << BITS) / side;
    const top = (1 << BITS) - 1;
    const { keys, ids } = this;
    for (let i = 0; i < n; i++) {
      let gx = Math.floor((y[2 * i] - minX) * scale);
      let gy = Math.floor((y[2 * i + 1] - minY) * scale);
      gx = gx < 0 ? 0 : gx > top ? top : gx;
      gy = gy < 0 ? 0 : gy > top ? top : gy;
      keys[i] = (spread(gx) | (spread(gy) << 1)) >>> 0;
      ids[i] = i;
    }
    this.radixSort();
    const { sx, sy, px, py } = this;
    px[0] = 0;
    py[0] = 0;
    for (let p = 0; p < n; p++) {
      const i = ids[p];
      sx[p] = y[2 * i];
      sy[p] = y[2 * i + 1];
      px[p + 1] = px[p] + sx[p];
      py[p + 1] = py[p] + sy[p];
    }
    this.size = 0;
    // open a cell of side w when d2 <= w^2 / theta^2 (theta = 0: always open, exact)
    this.openScale = theta > 0 ? (side * side) / (theta * theta) : Infinity;
    this.buildRange(0, n, 0);
  }

  /** Appends the subtree of sorted points [a, b) whose cell is at `level`; returns its node index. */
  private buildRange(a: number, b: number, level: number): number {
    const keys = this.keys;
    // collapse levels where all points fall into the same child cell
    while (level < BITS) {
      const shift = 2 * (BITS - 1 - level);
      if (((keys[a] >>> shift) & 3) !== ((keys[b - 1] >>> shift) & 3)) break;
      level++;
    }
    const node = this.size++;
    const o = node * NODE_STRIDE;
    const nodes = this.nodes;
    const cnt = b - a;
    nodes[o + COM_X] = (this.px[b] - this.px[a]) / cnt;
    nodes[o + COM_Y] = (this.py[b] - this.py[a]) / cnt;
    nodes[o + COUNT] = cnt;
    // (side / 2^level)^2 / theta^2
    nodes[o + OPEN_D2] = this.openScale / 2 ** (2 * level);
    if (cnt <= LEAF_SIZE || level >= BITS) {
      nodes[o + LEAF_A] = a;
      nodes[o + LEAF_B] = b;
    } else {
      nodes[o + LEAF_A] = -1;
      nodes[o + LEAF_B] = -1;
      const shift = 2 * (BITS - 1 - level);
      let s = a;
      while (s < b) {
        const digit = (keys[s] >>> shift) & 3;
        let e = s + 1;
        while (e < b && ((keys[e] >>> shift) & 3) === digit) e++;
        this.buildRange(s, e, level + 1);
        s = e;
      }
    }
    nodes[o + SKIP] = this.size;
    return node;
  }

  private radixSort(): void {
    const n = this.n;
    let k = this.keys, k2 = this.keys2, v = this.ids, v2 = this.ids2;
    const counts = this.counts;
    for (let pass = 0; pass < 4; pass++) {
      const shift = pass * 8;
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(k[i] >>> shift) & 255]++;
      let sum = 0;
      for (let c = 0; c < 256; c++) {
        const t = counts[c];
        counts[c] = sum;
        sum += t;
      }
      for (let i = 0; i < n; i++) {
        const dst = counts[(k[i] >>> shift) & 255]++;
        k2[dst] = k[i];
        v2[dst] = v[i];
      }
      [k, k2] = [k2, k];
      [v, v2] = [v2, v];
    }
    // after 4 passes the sorted data is back in the original buffers
  }
}

/** Spreads the low 16 bits of x to the even bit positions (Morton interleave). */
function spread(x: number): number {
  x &= 0xffff;
  x = (x | (x << 8)) & 0x00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f;
  x = (x | (x << 2)) & 0x33333333;
  x = (x | (x << 1)) & 0x55555555;
  return x;
}

/** Points per traversal group (consecutive in Morton order, so spatially compact). */
const GROUP = 16;

/**
 * Unnormalised repulsive forces for the points at Morton positions [start, end) of a built tree:
 * negF[i] = sum_j q_ij^2 Z^2 (y_i - y_j) for point id i = ids[p], returning their share of
 * Z = sum_{i != j} (1 + |y_i - y_j|^2)^-1. Works on the tree's arrays only (so a worker thread
 * holding views of the same shared memory can run it).
 *
 * The tree is walked once per group of GROUP consecutive points rather than once per point: a
 * cell is summarised for the whole group when the criterion holds even for the group's nearest
 * possible member (distance from the centre of mass minus the group's radius), and opened for the
 * whole group when it fails even for the farthest; only in between does each member walk that
 * subtree alone. Every point thus gets exactly the per-point Barnes-Hut decisions while most
 * decisions are shared, and the per-point work becomes tight, branch-predictable loops.
 */
export function repulsion(nodes: Float64Array, size: number, sx: Float64Array, sy: Float64Array, ids: Int32Array, negF: Float64Array, start: number, end: number): number {
  let sumQ = 0;
  const fxs = new Float64Array(GROUP);
  const fys = new Float64Array(GROUP);
  const scratch = new Float64Array(3);
  for (let g0 = start; g0 < end; g0 += GROUP) {
    const g1 = Math.min(end, g0 + GROUP);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let p = g0; p < g1; p++) {
      const a = sx[p], b = sy[p];
      if (a < minX) minX = a;
      if (a > maxX) maxX = a;
      if (b < minY) minY = b;
      if (b > maxY) maxY = b;
      fxs[p - g0] = 0;
      fys[p - g0] = 0;
    }
    const gx = (minX + maxX) / 2, gy = (minY + maxY) / 2;
    const gr = Math.sqrt((maxX - minX) * (maxX - minX) + (maxY - minY) * (maxY - minY)) / 2;
    let t = 0;
    while (t < size) {
      const o = t * NODE_STRIDE;
      const cx = nodes[o], cy = nodes[o + 1];
      const ex = gx - cx, ey = gy - cy;
      const m = Math.sqrt(ex * ex + ey * ey) - gr;
      if (m > 0 && m * m > nodes[o + 3]) {
        // far enough from every group member: the cell acts as one body at its centre of mass
        const cnt = nodes[o + 2];
        for (let p = g0; p < g1; p++) {
          const dx = sx[p] - cx;
          const dy = sy[p] - cy;
          const q = 1 / (1 + dx * dx + dy * dy);
          const cq = cnt * q;
          sumQ += cq;
          fxs[p - g0] += cq * q * dx;
          fys[p - g0] += cq * q * dy;
        }
        t = nodes[o + 4];
        continue;
      }
      const far = m + 2 * gr; // the farthest any member can be from the centre of mass
      if (far * far > nodes[o + 3]) {
        // some members may summarise this cell and others not: walk its subtree per point
        const stop = nodes[o + 4];
        for (let p = g0; p < g1; p++) {
          walkAlone(nodes, sx, sy, p, t, stop, scratch);
          sumQ += scratch[2];
          fxs[p - g0] += scratch[0];
          fys[p - g0] += scratch[1];
        }
        t = stop;
        continue;
      }
      const la = nodes[o + 5];
      if (la >= 0) {
        // a leaf opened for the whole group: exact interactions with its points
        sumQ = leafForGroup(sx, sy, g0, g1, la, nodes[o + 6], fxs, fys, sumQ);
        t = nodes[o + 4];
        continue;
      }
      t++;
    }
    for (let p = g0; p < g1; p++) {
      const i = ids[p];
      negF[2 * i] = fxs[p - g0];
      negF[2 * i + 1] = fys[p - g0];
    }
  }
  return sumQ;
}

/**
 * The per-point Barnes-Hut walk of the subtree at nodes [t, stop) for the point at Morton
 * position p: out = [sum of q^2 Z (x_p - x_j), the same for y, its share of Z].
 */
function walkAlone(nodes: Float64Array, sx: Float64Array, sy: Float64Array, p: number, t: number, stop: number, out: Float64Array): void {
  const xi = sx[p], yi = sy[p];
  let fx = 0, fy = 0, zq = 0;
  let u = t;
  while (u < stop) {
    const b = u * NODE_STRIDE;
    const dx = xi - nodes[b];
    const dy = yi - nodes[b + 1];
    const d2 = dx * dx + dy * dy;
    if (d2 > nodes[b + 3]) {
      const q = 1 / (1 + d2);
      const cq = nodes[b + 2] * q;
      zq += cq;
      fx += cq * q * dx;
      fy += cq * q * dy;
      u = nodes[b + 4];
      continue;
    }
    const la = nodes[b + 5];
    if (la >= 0) {
      const lb = nodes[b + 6];
      for (let r = la; r < lb; r++) {
        if (r === p) continue;
        const ex = xi - sx[r];
        const ey = yi - sy[r];
        const q = 1 / (1 + ex * ex + ey * ey);
        zq += q;
        const qq = q * q;
        fx += qq * ex;
        fy += qq * ey;
      }
      u = nodes[b + 4];
      continue;
    }
    u++;
  }
  out[0] = fx;
  out[1] = fy;
  out[2] = zq;
}

/**
 * Exact interactions of the group's points at Morton positions [g0, g1) with a leaf's points
 * [la, lb): forces added to fxs/fys (indexed from g0); returns sumQ plus their (1 + d^2)^-1, added
 * in the same order as the per-point walk would.
 */
function leafForGroup(sx: Float64Array, sy: Float64Array, g0: number, g1: number, la: number, lb: number, fxs: Float64Array, fys: Float64Array, sumQ: number): number {
  for (let p = g0; p < g1; p++) {
    const xi = sx[p], yi = sy[p];
    let fx = 0, fy = 0;
    for (let r = la; r < lb; r++) {
      if (r === p) continue;
      const dx = xi - sx[r];
      const dy = yi - sy[r];
      const q = 1 / (1 + dx * dx + dy * dy);
      sumQ += q;
      const qq = q * q;
      fx += qq * dx;
      fy += qq * dy;
    }
    fxs[p - g0] += fx;
    fys[p - g0] += fy;
  }
  return sumQ;
}
