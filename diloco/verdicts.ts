import { elementCount } from "../checkpoints/tensor.ts";
import { sqrt } from "../model/ieeeMath.ts";
import { parameterShapes } from "../model/parameters.ts";
import type { ReplicaScores } from "../model/replicaScores.ts";
import type { Bytes32, RunSpec } from "../spec/runSpec.ts";

/** What reading a replica's files can find wrong with them, before any number is judged. */
export const DEFECT_REASONS = [
  "unreadable",
  "oversized",
  "hash-mismatch",
  "wrong-parent",
  "shape",
  "non-finite",
] as const;
export type DefectReason = (typeof DEFECT_REASONS)[number];

/**
 * Why a replica's output was left out of the average and its GPU time is not paid; the order is
 * the order the checks run in (the first failure is the reason): the defects, then the measures.
 * diloco/README.md states each rule.
 */
export const REJECTION_REASONS = [
  ...DEFECT_REASONS,
  "norm-outlier",
  "duplicate",
  "no-progress",
  "held-out-loss",
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];
export type { ReplicaScores };

export interface Defect {
  readonly reason: DefectReason;
  readonly message: string;
}

/** The pseudo-gradient Δ = θ − θₖ as measured: its size, and its values at the round's sampled coordinates. */
export interface DeltaMeasure {
  readonly norm: number;
  readonly maxAbs: number;
  readonly sketch: Float32Array;
}

/** Everything a verdict rests on for one replica: a defect, or its measurements. */
export type ReplicaEvidence =
  | { readonly id: string; readonly root?: Bytes32; readonly defect: Defect }
  | {
      readonly id: string;
      readonly root: Bytes32;
      readonly delta: DeltaMeasure;
      readonly scores: ReplicaScores;
      /**
       * Who computed the scores: absent when only the process that ran the outer step did, else
       * the names its caller gave (the evaluating clusters' ids whose scores are these bits).
       * `judge` never reads it: the scores are the same bits whoever computed them.
       */
      readonly evaluatedBy?: readonly string[];
    };

/** A round's evidence: what `judge` decides from, and what a re-derivation must reproduce. */
export interface RoundEvidence {
  readonly globalRoot: Bytes32;
  /** θ's largest |parameter| (weight decay moves a coordinate in proportion to it). */
  readonly globalMaxAbs: number;
  /** θ on the held-out batches. */
  readonly globalHeldOutLoss: number;
  readonly replicas: readonly ReplicaEvidence[];
}

export type Verdict =
  /** `message` gives each measure beside the threshold it passed. */
  | { readonly id: string; readonly accepted: true; readonly message: string }
  | {
      readonly id: string;
      readonly accepted: false;
      readonly reason: RejectionReason;
      readonly message: string;
    };

/**
 * Adam moves a coordinate by at most about (1 − β₁)/√(1 − β₂) ≈ 3.2 learning rates per step;
 * 4 leaves room for rounding, and weight decay's share is added separately.
 */
export const ADAM_MAX_STEP_IN_LRS = 4;
/** Pseudo-gradients this close in direction (cosine on the sketch) are copies of one another. */
export const DUPLICATE_COSINE = 0.99;
/** A replica must move at least this share of the median replica's ‖Δ‖ … */
export const MIN_MOVEMENT_OF_MEDIAN = 0.25;
/** … and at least this share of one AdamW step of every coordinate (lr·√parameters). */
export const MIN_MOVEMENT_OF_ONE_STEP = 0.01;
/** With three or more candidates, Δ's cosine with the others' summed directions must reach this. */
export const MIN_ALIGNMENT = 0.1;
/** A loss improvement may fall short of the peers' median by the tolerance plus this share of the median. */
export const PROGRESS_SHORTFALL_OF_MEDIAN = 0.5;

type Measured = Extract<ReplicaEvidence, { delta: DeltaMeasure }>;
type Reject = (id: string, reason: RejectionReason, message: string) => void;
/** Records a measure a replica passed, beside its threshold. */
type Note = (id: string, passed: string) => void;

/**
 * The verdicts on a round's replicas, in their order: a pure function of the evidence and the run
 * spec, so anyone holding the same evidence reaches the same verdicts. The checks, in order (each
 * among the replicas still standing): defects found reading the files; `norm-outlier`;
 * `duplicate`; `no-progress` by movement and direction; `held-out-loss`; `no-progress` by loss
 * against the peers.
 */
export function judge(round: RoundEvidence, spec: RunSpec): Verdict[] {
  const rejected = new Map<string, Verdict>();
  const reject: Reject = (id, reason, message) => rejected.set(id, { id, accepted: false, reason, message });
  const notes = new Map<string, string[]>();
  const note: Note = (id, passed) => notes.set(id, [...(notes.get(id) ?? []), passed]);
  let standing: Measured[] = [];
  for (const replica of round.replicas) {
    if ("defect" in replica) reject(replica.id, replica.defect.reason, replica.defect.message);
    else standing.push(replica);
  }
  standing = normOutliers(standing, round, spec, reject);
  standing = duplicates(standing, reject, note);
  standing = idle(standing, spec, reject, note);
  standing = harmful(standing, round, spec, reject);
  behindPeers(standing, round, spec, reject, note);
  return round.replicas.map(
    (r) => rejected.get(r.id) ?? { id: r.id, accepted: true, message: (notes.get(r.id) ?? []).join("; ") },
  );
}

/**
 * Δ moves some coordinate further than `innerSteps` AdamW steps at `inner.lr` can, or (with
 * three or more candidates) its norm exceeds `validation.maxNormRatio` × the median norm.
 */
function normOutliers(standing: Measured[], round: RoundEvidence, spec: RunSpec, reject: Reject): Measured[] {
  const mid = median(standing.map((r) => r.delta.norm));
  const travel = spec.innerSteps * spec.inner.lr * ADAM_MAX_STEP_IN_LRS;
  const bound =
    travel + spec.innerSteps * spec.inner.lr * spec.inner.weightDecay * (round.globalMaxAbs + travel);
  return standing.filter(({ id, delta }) => {
    if (delta.maxAbs > bound) {
      reject(
        id,
        "norm-outlier",
        `pseudo-gradient moves a parameter by ${delta.maxAbs.toPrecision(3)}, more than ${spec.innerSteps} AdamW steps at lr ${spec.inner.lr} can (${bound.toPrecision(3)})`,
      );
      return false;
    }
    if (standing.length >= 3 && mid > 0 && delta.norm > spec.validation.maxNormRatio * mid) {
      reject(
        id,
        "norm-outlier",
        `pseudo-gradient norm ${delta.norm.toPrecision(3)} is ${(delta.norm / mid).toFixed(1)}× the median ${mid.toPrecision(3)} (limit ${spec.validation.maxNormRatio}×)`,
      );
      return false;
    }
    return true;
  });
}

/** Same bytes (root) as another replica, or a pseudo-gradient pointing the same way (any scale). */
function duplicates(standing: Measured[], reject: Reject, note: Note): Measured[] {
  const twins = new Map<string, string[]>();
  const closest = new Map<string, number>();
  for (let a = 0; a < standing.length; a++) {
    for (let b = a + 1; b < standing.length; b++) {
      const [x, y] = [standing[a]!, standing[b]!];
      const similarity = cosine(x.delta.sketch, y.delta.sketch);
      for (const id of [x.id, y.id]) closest.set(id, Math.max(closest.get(id) ?? -1, similarity));
      if (x.root !== y.root && !(similarity >= DUPLICATE_COSINE)) continue;
      const how = x.root === y.root ? "the same bytes" : `cosine ${similarity.toFixed(4)}`;
      twins.set(x.id, [...(twins.get(x.id) ?? []), `${y.id} (${how})`]);
      twins.set(y.id, [...(twins.get(y.id) ?? []), `${x.id} (${how})`]);
    }
  }
  return standing.filter(({ id }) => {
    const of = twins.get(id);
    if (of)
      reject(
        id,
        "duplicate",
        `its pseudo-gradient is a copy of replica ${of.join(", ")}: none of a group of copies is paid or averaged`,
      );
    else if (closest.has(id))
      note(id, `closest peer's cosine ${closest.get(id)!.toFixed(3)} (copies from ${DUPLICATE_COSINE})`);
    return !of;
  });
}

/**
 * No work to show: Δ shorter than MIN_MOVEMENT_OF_MEDIAN × the median ‖Δ‖ or than
 * MIN_MOVEMENT_OF_ONE_STEP × lr·√parameters (θ returned unchanged, or with noise), or, with three
 * or more candidates, a direction unrelated to the others' (cosine with the sum of their unit
 * sketches below MIN_ALIGNMENT: noise the size of an honest Δ).
 */
function idle(standing: Measured[], spec: RunSpec, reject: Reject, note: Note): Measured[] {
  const parameters = parameterShapes(spec.model).reduce((n, [, shape]) => n + elementCount(shape), 0);
  const floor = Math.max(
    MIN_MOVEMENT_OF_MEDIAN * median(standing.map((r) => r.delta.norm)),
    MIN_MOVEMENT_OF_ONE_STEP * spec.inner.lr * sqrt(parameters),
  );
  const moved = standing.filter(({ id, delta }) => {
    if (delta.norm >= floor) {
      note(id, `moved ${delta.norm.toPrecision(3)} (at least ${floor.toPrecision(3)})`);
      return true;
    }
    reject(
      id,
      "no-progress",
      `its parameters moved by ${delta.norm.toPrecision(3)} in all; the round's replicas must move at least ${floor.toPrecision(3)}`,
    );
    return false;
  });
  if (moved.length < 3) return moved;
  const units = moved.map((r) => unit(r.delta.sketch));
  return moved.filter(({ id, delta }, k) => {
    const others = new Float64Array(delta.sketch.length);
    for (const [j, u] of units.entries())
      if (j !== k) for (let i = 0; i < u.length; i++) others[i] = others[i]! + u[i]!;
    const alignment = cosine(delta.sketch, others);
    if (alignment >= MIN_ALIGNMENT) {
      note(id, `alignment ${alignment.toFixed(3)} (at least ${MIN_ALIGNMENT})`);
      return true;
    }
    reject(
      id,
      "no-progress",
      `its pseudo-gradient points away from its peers' (cosine ${alignment.toFixed(3)} with their sum, at least ${MIN_ALIGNMENT} needed): not the result of training on the run's data`,
    );
    return false;
  });
}

/** Held-out loss worse than θ's by more than `validation.tolerance` (or not a number at all). */
function harmful(standing: Measured[], round: RoundEvidence, spec: RunSpec, reject: Reject): Measured[] {
  const limit = round.globalHeldOutLoss + spec.validation.tolerance;
  return standing.filter(({ id, scores }) => {
    if (scores.heldOutLoss <= limit) return true;
    reject(
      id,
      "held-out-loss",
      `held-out loss ${scores.heldOutLoss.toFixed(4)} is worse than the global checkpoint's ${round.globalHeldOutLoss.toFixed(4)} by more than the tolerance ${spec.validation.tolerance}`,
    );
    return false;
  });
}

/**
 * Its improvement over θ — on the held-out batches, and on windows of its own assigned shards —
 * falls short of the median candidate's by more than `validation.tolerance` plus
 * PROGRESS_SHORTFALL_OF_MEDIAN × |that median|.
 */
function behindPeers(
  standing: Measured[],
  round: RoundEvidence,
  spec: RunSpec,
  reject: Reject,
  note: Note,
): void {
  const measures = [
    { what: "held-out", of: (r: Measured) => round.globalHeldOutLoss - r.scores.heldOutLoss },
    { what: "own-shard", of: (r: Measured) => r.scores.ownShardLossOfGlobal - r.scores.ownShardLoss },
  ];
  const behind = new Map<string, string>();
  for (const { what, of } of measures) {
    const mid = median(standing.map(of));
    const floor = mid - (spec.validation.tolerance + PROGRESS_SHORTFALL_OF_MEDIAN * Math.abs(mid));
    for (const r of standing) {
      const progress = of(r);
      if (progress >= floor)
        note(r.id, `${what} improvement ${progress.toFixed(4)} (at least ${floor.toFixed(4)})`);
      if (progress >= floor || behind.has(r.id)) continue;
      behind.set(
        r.id,
        `its ${what} loss improved by ${progress.toFixed(4)}; the round's median replica improved by ${mid.toFixed(4)}, and at least ${floor.toFixed(4)} is needed`,
      );
    }
  }
  for (const [id, message] of behind) reject(id, "no-progress", message);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** a·b / (‖a‖‖b‖), summed in index order in binary64 (ieeeMath's sqrt); NaN when either is all zeros. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / (sqrt(aa) * sqrt(bb));
}

function unit(v: Float32Array): Float64Array {
  let squares = 0;
  for (let i = 0; i < v.length; i++) squares += v[i]! * v[i]!;
  const norm = sqrt(squares);
  return Float64Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}
