/**
 * The arithmetic of DiLoCo's outer step over named float32 parameter arrays. Pure functions;
 * outerStep.ts does the reading, validation and writing around them.
 */
export type Values = Readonly<Record<string, Float32Array>>;

/** Δ = θ − θₖ: the replica's pseudo-gradient (what its inner steps moved, sign as a gradient). */
export function pseudoGradient(global: Values, replica: Values): Record<string, Float32Array> {
  const delta: Record<string, Float32Array> = {};
  for (const [name, theta] of Object.entries(global)) {
    const local = replica[name]!;
    const d = new Float32Array(theta.length);
    for (let i = 0; i < d.length; i++) d[i] = theta[i]! - local[i]!;
    delta[name] = d;
  }
  return delta;
}

export function l2Norm(values: Values): number {
  let sum = 0;
  for (const v of Object.values(values)) for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

export function maxAbs(values: Values): number {
  let max = 0;
  for (const v of Object.values(values))
    for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  return max;
}

/** The first non-finite value, as `name[index] = value`, or null when all are finite. */
export function firstNonFinite(values: Values): string | null {
  for (const [name, v] of Object.entries(values)) {
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return `${name}[${i}] = ${v[i]}`;
  }
  return null;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** How many values a trimmed mean drops at each end: none below 3, else ⌊k/4⌋ but at least one. */
export function trimCount(k: number): number {
  return k < 3 ? 0 : Math.max(1, Math.floor(k / 4));
}

/**
 * Coordinate-wise mean of the pseudo-gradients, or trimmed mean (the `trimCount` largest and
 * smallest values of each coordinate dropped), which bounds what a few byzantine replicas can do.
 */
export function aggregate(
  deltas: readonly Values[],
  method: "mean" | "trimmed-mean",
): Record<string, Float32Array> {
  if (deltas.length === 0) throw new RangeError("aggregate: no pseudo-gradients");
  const trim = method === "trimmed-mean" ? trimCount(deltas.length) : 0;
  const out: Record<string, Float32Array> = {};
  const column = new Float64Array(deltas.length);
  for (const name of Object.keys(deltas[0]!)) {
    const parts = deltas.map((d) => d[name]!);
    const avg = new Float32Array(parts[0]!.length);
    for (let i = 0; i < avg.length; i++) {
      for (let k = 0; k < parts.length; k++) column[k] = parts[k]![i]!;
      if (trim > 0) column.sort();
      let sum = 0;
      for (let k = trim; k < parts.length - trim; k++) sum += column[k]!;
      avg[i] = sum / (parts.length - 2 * trim);
    }
    out[name] = avg;
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
  global: Values,
  delta: Values,
  momentum: Values | undefined,
  opt: OuterOptimizer,
): { params: Record<string, Float32Array>; momentum: Record<string, Float32Array> } {
  const params: Record<string, Float32Array> = {};
  const buffers: Record<string, Float32Array> = {};
  for (const [name, theta] of Object.entries(global)) {
    const d = delta[name]!;
    const previous = momentum?.[name];
    const b = new Float32Array(theta.length);
    const next = new Float32Array(theta.length);
    for (let i = 0; i < theta.length; i++) {
      b[i] = opt.momentum * (previous ? previous[i]! : 0) + d[i]!;
      const g = opt.nesterov ? d[i]! + opt.momentum * b[i]! : b[i]!;
      next[i] = theta[i]! - opt.lr * g;
    }
    params[name] = next;
    buffers[name] = b;
  }
  return { params, momentum: buffers };
}
