/**
 * Similarity of two maps (pure maths, no tensors): Spearman's rank correlation with average ranks
 * for ties, and the structural similarity index SSIM of Wang, Bovik, Sheikh and Simoncelli (2004),
 * "Image quality assessment: from error visibility to structural similarity", IEEE TIP 13(4),
 * eq. (13), with their 11 x 11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03.
 *
 * Written here, not taken from npm: the well-kept SSIM package (ssim.js) takes 8-bit RGBA
 * ImageData (maps would be quantised to 256 levels and converted to luminance first), and the
 * others use 8 x 8 blocks (image-ssim) rather than the paper's Gaussian window; Spearman with
 * average ranks is a few lines. Both are checked against scipy.stats.spearmanr and
 * skimage.metrics.structural_similarity in test/core/similarity.test.ts.
 */

/**
 * Ranks 1..n of `x`, tied values sharing the mean of the ranks they span ("average" ranks, as
 * scipy.stats.rankdata's default): [10, 20, 20, 30] -> [1, 2.5, 2.5, 4].
 */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const rank = (i + j) / 2 + 1; // mean of ranks i+1 .. j+1
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Pearson's correlation; NaN when either input is constant (the correlation is undefined). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error(`pearson: lengths differ (${n} and ${b.length})`);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/**
 * Spearman's rank correlation: Pearson's correlation of the average ranks (the tie-correct form,
 * not 1 - 6 sum d^2 / (n(n^2 - 1)), which holds only without ties). NaN when either is constant.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: lengths differ (${a.length} and ${b.length})`);
  return pearson(averageRanks(a), averageRanks(b));
}

/** Settings of `ssim`; the defaults are Wang et al.'s. */
export interface SsimOptions {
  /** Standard deviation of the Gaussian window, pixels (1.5). */
  sigma?: number;
  /** Window radius, pixels: the window is (2r + 1) x (2r + 1) (5, so 11 x 11). */
  radius?: number;
  /** Dynamic range L of the values (1 for maps scaled to [0, 1]). */
  dataRange?: number;
  k1?: number;
  k2?: number;
}

/** The normalised 1-D Gaussian weights exp(-x^2 / 2 sigma^2), x = -r..r. */
function gaussianWindow(sigma: number, radius: number): Float64Array {
  const w = Float64Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

/**
 * Mean SSIM of two `height` x `width` maps (row-major), over every window that lies inside the
 * map (the border of `radius` pixels is not a window centre, as skimage crops it):
 *
 *   SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
 *   C1 = (K1 L)^2, C2 = (K2 L)^2,
 *
 * with Gaussian-weighted local means, variances and covariance (population form). Equals
 * skimage.metrics.structural_similarity(x, y, data_range=L, gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False). 1 for identical maps, also constant ones.
 */
export function ssim(x: ArrayLike<number>, y: ArrayLike<number>, width: number, height: number, opts: SsimOptions = {}): number {
  const sigma = opts.sigma ?? 1.5;
  const r = opts.radius ?? 5;
  const L = opts.dataRange ?? 1;
  const c1 = ((opts.k1 ?? 0.01) * L) ** 2;
  const c2 = ((opts.k2 ?? 0.03) * L) ** 2;
  const n = width * height;
  if (x.length !== n || y.length !== n) throw new Error(`ssim: maps have ${x.length} and ${y.length} values for ${width}x${height}`);
  if (width < 2 * r + 1 || height < 2 * r + 1) throw new Error(`ssim: a ${width}x${height} map is smaller than the ${2 * r + 1}x${2 * r + 1} window`);
  const g = gaussianWindow(sigma, r);
  // The five local moments by a separable filter: rows first (every row, valid columns), then
  // columns (valid rows). Output grid: (height - 2r) x (width - 2r).
  const ow = width - 2 * r;
  const oh = height - 2 * r;
  const fields = [
    (i: number) => x[i], (i: number) => y[i], (i: number) => x[i] * x[i], (i: number) => y[i] * y[i], (i: number) => x[i] * y[i],
  ];
  const moments = fields.map((f) => {
    const rowPass = new Float64Array(height * ow);
    for (let yy = 0; yy < height; yy++) {
      for (let xx = 0; xx < ow; xx++) {
        let s = 0;
        for (let k = 0; k <= 2 * r; k++) s += g[k] * f(yy * width + xx + k);
        rowPass[yy * ow + xx] = s;
      }
    }
    const out = new Float64Array(oh * ow);
    for (let yy = 0; yy < oh; yy++) {
      for (let xx = 0; xx < ow; xx++) {
        let s = 0;
        for (let k = 0; k <= 2 * r; k++) s += g[k] * rowPass[(yy + k) * ow + xx];
        out[yy * ow + xx] = s;
      }
    }
    return out;
  });
  const [mx, my, mxx, myy, mxy] = moments;
  let total = 0;
  for (let i = 0; i < oh * ow; i++) {
    const vx = mxx[i] - mx[i] * mx[i];
    const vy = myy[i] - my[i] * my[i];
    const cxy = mxy[i] - mx[i] * my[i];
    total += ((2 * mx[i] * my[i] + c1) * (2 * cxy + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
  }
  return total / (oh * ow);
}
