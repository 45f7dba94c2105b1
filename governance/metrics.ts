/** loss and valLoss travel on-chain as fixed point with this many units per 1.0 (CheckpointRegistry.METRICS_SCALE). */
export const METRICS_SCALE = 1_000_000_000;

export interface CheckpointMetrics {
  loss: number;
  valLoss: number;
  tokens: bigint;
  steps: bigint;
}

export interface OnChainMetrics {
  loss: bigint;
  valLoss: bigint;
  tokens: bigint;
  steps: bigint;
}

export function encodeMetrics(metrics: CheckpointMetrics): OnChainMetrics {
  const fixed = (value: number, field: string) => {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`metrics.${field} must be a finite number ≥ 0, got ${value}`);
    return BigInt(Math.round(value * METRICS_SCALE));
  };
  return {
    loss: fixed(metrics.loss, "loss"),
    valLoss: fixed(metrics.valLoss, "valLoss"),
    tokens: metrics.tokens,
    steps: metrics.steps,
  };
}

export function decodeMetrics(metrics: OnChainMetrics): CheckpointMetrics {
  return {
    loss: Number(metrics.loss) / METRICS_SCALE,
    valLoss: Number(metrics.valLoss) / METRICS_SCALE,
    tokens: metrics.tokens,
    steps: metrics.steps,
  };
}

/**
 * What the operator commits for a checkpoint's metrics (as its manifest states them): a loss that
 * could not be measured (NaN, or none) is recorded as 0, which no real loss is.
 */
export function committedMetrics(metrics: {
  loss: number | null;
  valLoss: number | null;
  tokens: number;
  steps: number;
}): CheckpointMetrics {
  const finite = (value: number | null) =>
    value !== null && Number.isFinite(value) && value >= 0 ? value : 0;
  return {
    loss: finite(metrics.loss),
    valLoss: finite(metrics.valLoss),
    tokens: BigInt(metrics.tokens),
    steps: BigInt(metrics.steps),
  };
}
