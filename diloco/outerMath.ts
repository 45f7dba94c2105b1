/**
 * The arithmetic of DiLoCo's outer step on runs of coordinates, so that it can go a piece of a
 * tensor at a time. Pure functions; every result is rounded to float32 as it is stored, and every
 * sum runs in binary64 in an order fixed here, so the same inputs give the same bits anywhere.
 */

/** How many values a trimmed mean drops at each end: none below 3, else ⌊k/4⌋ but at least one. */
export function trimCount(k: number): number {
  return k < 3 ? 0 : Math.max(1, Math.floor(k / 4));
}

/**
 * The coordinate-wise mean of k pseudo-gradients over n coordinates — `columns` holds them
 * replica-major, replica r's value of coordinate i at r·n + i — or their trimmed mean (the
 * `trimCount` largest and smallest values of each coordinate dropped), which bounds what a few
 * byzantine replicas can do. Each coordinate's values are summed in replica order (mean) or in
 * ascending order (trimmed mean).
 */
export function combine(
  columns: Float32Array,
  k: number,
  n: number,
  method: "mean" | "trimmed-mean",
): Float32Array {
  if (k === 0) throw new RangeError("combine: no pseudo-gradients");
  const trim = method === "trimmed-mean" ? trimCount(k) : 0;
  const out = new Float32Array(n);
  if (trim === 0) {
    // Replica by replica over every coordinate: the same sums in the same order as a column at a
    // time, read front to back.
    const sums = new Float64Array(n);
    for (let r = 0; r < k; r++) {
      const values = columns.subarray(r * n, (r + 1) * n);
      for (let i = 0; i < n; i++) sums[i] = sums[i]! + values[i]!;
    }
    for (let i = 0; i < n; i++) out[i] = sums[i]! / k;
    return out;
  }
  const column = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < k; r++) column[r] = columns[r * n + i]!;
    if (trim > 0) column.sort();
    let sum = 0;
    for (let r = trim; r < k - trim; r++) sum += column[r]!;
    out[i] = sum / (k - 2 * trim);
  }
  return out;
}

export interface OuterOptimizer {
  readonly lr: number;
  readonly momentum: number;
  readonly nesterov: boolean;
}

/**
 * SGD with (Nesterov) momentum on the averaged pseudo-gradient Δ, as DiLoCo's outer optimizer
 * (PyTorch's SGD semantics): b ← μ·b + Δ;  g ← Δ + μ·b (Nesterov) or b;  θ ← θ − lr·g.
 * `momentum` is the buffer b from the previous round (absent = zeros).
 */
export function outerUpdate(
  theta: Float32Array,
  delta: Float32Array,
  momentum: Float32Array | undefined,
  opt: OuterOptimizer,
): { params: Float32Array; momentum: Float32Array } {
  const buffer = new Float32Array(theta.length);
  const params = new Float32Array(theta.length);
  for (let i = 0; i < theta.length; i++) {
    buffer[i] = opt.momentum * (momentum ? momentum[i]! : 0) + delta[i]!;
    const g = opt.nesterov ? delta[i]! + opt.momentum * buffer[i]! : buffer[i]!;
    params[i] = theta[i]! - opt.lr * g;
  }
  return { params, momentum: buffer };
}
