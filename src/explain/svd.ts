/**
 * The one eigen-solver of the CAMs: the first right singular vector of a small dense matrix by
 * power iteration (Eigen-CAM, eigen_cam.ts; the `eigenSmooth` option of every CAM, base.ts).
 * Pure maths on plain arrays (double precision).
 */

/**
 * The first right singular vector of a row-major [rows, cols] matrix, by power iteration on
 * O^T O (rate (sigma_2 / sigma_1)^2 per step), signed so that sum(O v) >= 0.
 */
export function firstRightSingularVector(o: ArrayLike<number>, rows: number, cols: number, maxIterations = 5000): Float64Array {
  let v = new Float64Array(cols).fill(1 / Math.sqrt(cols));
  const u = new Float64Array(rows);
  for (let it = 0; it < maxIterations; it++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += o[r * cols + c] * v[c];
      u[r] = s;
    }
    const next = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) next[c] += o[r * cols + c] * u[r];
    const norm = Math.hypot(...next);
    if (norm === 0) return v; // O = 0: any direction; the map is 0 anyway
    let change = 0; // max |v_new - v| (O^T O is positive semi-definite: no sign flips between steps)
    for (let c = 0; c < cols; c++) {
      next[c] /= norm;
      change = Math.max(change, Math.abs(next[c] - v[c]));
    }
    v = next;
    if (change < 1e-14) break;
  }
  let projectionSum = 0;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) projectionSum += o[r * cols + c] * v[c];
  return projectionSum < 0 ? v.map((x) => -x) : v;
}
