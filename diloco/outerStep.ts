import type { CheckpointManifest } from "../checkpoints/manifest.ts";
import { type Checkpoint, readCheckpoint } from "../checkpoints/read.ts";
import { floatTensor, type Tensor, toFloat32 } from "../checkpoints/tensor.ts";
import { CheckpointVerificationError } from "../checkpoints/verify.ts";
import { writeCheckpoint } from "../checkpoints/write.ts";
import { heldOutBatches, lossOfValues, modelValues } from "../model/evaluate.ts";
import { MOMENTUM_PREFIX } from "../model/huggingface.ts";
import { parameterShapes, runSpecMetadata } from "../model/parameters.ts";
import { type Bytes32, type RunSpec, runIdOf } from "../spec/runSpec.ts";
import {
  aggregate,
  firstNonFinite,
  l2Norm,
  maxAbs,
  median,
  outerUpdate,
  pseudoGradient,
  type Values,
} from "./outerMath.ts";

/** Why a replica's checkpoint was left out of the average; `message` says what exactly. */
export type RejectionReason =
  | "unreadable"
  | "hash-mismatch"
  | "wrong-parent"
  | "shape"
  | "non-finite"
  | "norm-outlier"
  | "held-out-loss";

export interface Rejection {
  readonly id: string;
  readonly reason: RejectionReason;
  readonly message: string;
}

export interface ReplicaInput {
  readonly id: string;
  /** Local directory of the replica's output checkpoint. */
  readonly dir: string;
  /** The root the replica reported, if any: it must match what the bytes hash to. */
  readonly root?: Bytes32;
}

export interface OuterStepInput {
  /** Local directory of the round's global checkpoint θ. */
  readonly global: string;
  /** The root θ is committed under (on-chain); verified when given. */
  readonly globalRoot?: Bytes32;
  readonly replicas: readonly ReplicaInput[];
  readonly spec: RunSpec;
  /** Local directory of the run's dataset (its root must be spec.dataset). */
  readonly datasetDir: string;
}

export interface OuterStepResult {
  readonly accepted: readonly string[];
  readonly rejected: readonly Rejection[];
  /** Held-out loss of θ, of each replica that got as far as being scored, and of the new θ. */
  readonly valLoss: {
    readonly global: number;
    readonly replicas: Readonly<Record<string, number>>;
    readonly next: number | null;
  };
  readonly quorum: boolean;
  /** Writes the next global checkpoint (parameters and `outer.momentum.*`); throws without quorum. */
  write(dir: string): Promise<CheckpointManifest>;
}

/** Fewer replicas passed validation than the run spec's minReplicas. */
export class NoQuorumError extends Error {
  override readonly name = "NoQuorumError";
}

// The outer optimizer's momentum tensors in a global checkpoint are named MOMENTUM_PREFIX + param.
export { MOMENTUM_PREFIX };

/**
 * Adam moves a coordinate by at most about (1 − β₁)/√(1 − β₂) ≈ 3.2 learning rates per step;
 * 4 leaves room for rounding and weight decay's share is added separately.
 */
const ADAM_MAX_STEP_IN_LRS = 4;

/**
 * DiLoCo's outer step for one round. Each replica is validated in turn — bytes against its
 * manifest (recomputed here, never trusted), lineage (run, round, parent root), tensor names and
 * shapes, finite values, the size of its pseudo-gradient (against the median of the replicas and
 * against the most `innerSteps` AdamW steps can move), and its held-out loss against θ's — and the
 * first failure is its reason. The survivors' pseudo-gradients are averaged (mean or trimmed mean)
 * and applied with the Nesterov outer optimizer, whose momentum comes from and goes to the global
 * checkpoint.
 */
export async function outerStep(input: OuterStepInput): Promise<OuterStepResult> {
  const { spec } = input;
  const global = await readCheckpoint(
    input.global,
    input.globalRoot ? { expectedRoot: input.globalRoot } : {},
  );
  if (global.manifest.runId !== runIdOf(spec)) {
    throw new Error(
      `global checkpoint ${input.global} belongs to run ${global.manifest.runId}, not ${runIdOf(spec)}`,
    );
  }
  const theta = modelValues(global.tensors, spec);
  const batches = await heldOutBatches(input.datasetDir, spec, spec.validation.batches, spec.dataset);
  const globalLoss = await lossOfValues(theta, spec, batches);

  const rejected: Rejection[] = [];
  const candidates: { id: string; manifest: CheckpointManifest; delta: Values; values: Values }[] = [];
  for (const replica of input.replicas) {
    const loaded = await loadReplica(replica, global, spec);
    if ("reason" in loaded) rejected.push(loaded);
    else
      candidates.push({
        id: replica.id,
        manifest: loaded.manifest,
        values: loaded.values,
        delta: pseudoGradient(theta, loaded.values),
      });
  }

  const survivors = rejectNormOutliers(candidates, theta, spec, rejected);
  const replicaLoss: Record<string, number> = {};
  const accepted: typeof candidates = [];
  for (const c of survivors) {
    replicaLoss[c.id] = await lossOfValues(c.values, spec, batches);
    if (replicaLoss[c.id]! > globalLoss + spec.validation.tolerance) {
      rejected.push({
        id: c.id,
        reason: "held-out-loss",
        message: `held-out loss ${replicaLoss[c.id]!.toFixed(4)} is worse than the global checkpoint's ${globalLoss.toFixed(4)} by more than the tolerance ${spec.validation.tolerance}`,
      });
    } else accepted.push(c);
  }

  const quorum = accepted.length >= spec.minReplicas && accepted.length > 0;
  const next = quorum ? nextGlobal(global, theta, accepted, spec) : null;
  const nextLoss = next ? await lossOfValues(next.params, spec, batches) : null;
  return {
    accepted: accepted.map((c) => c.id),
    rejected,
    valLoss: { global: globalLoss, replicas: replicaLoss, next: nextLoss },
    quorum,
    write: async (dir: string) => {
      if (!next) {
        throw new NoQuorumError(
          `round ${global.manifest.round}: ${accepted.length} replica(s) passed validation, the run needs ${spec.minReplicas}`,
        );
      }
      return writeCheckpoint(dir, next.tensors, {
        runId: global.manifest.runId,
        round: global.manifest.round + 1,
        parentRoot: global.manifest.root,
        metrics: {
          loss: mean(accepted.map((c) => c.manifest.metrics.loss ?? Number.NaN)),
          valLoss: nextLoss,
          tokens:
            global.manifest.metrics.tokens + accepted.reduce((n, c) => n + c.manifest.metrics.tokens, 0),
          steps: global.manifest.metrics.steps + spec.innerSteps,
          replicasAccepted: accepted.length,
          replicasRejected: rejected.length,
          previousValLoss: globalLoss,
        },
        metadata: runSpecMetadata(spec),
      });
    },
  };
}

type Loaded = { manifest: CheckpointManifest; values: Values } | Rejection;

/** Reads a replica's checkpoint and checks its bytes, lineage, shapes and values. */
async function loadReplica(replica: ReplicaInput, global: Checkpoint, spec: RunSpec): Promise<Loaded> {
  const reject = (reason: RejectionReason, message: string): Rejection => ({
    id: replica.id,
    reason,
    message,
  });
  let checkpoint: Checkpoint;
  try {
    checkpoint = await readCheckpoint(replica.dir, replica.root ? { expectedRoot: replica.root } : {});
  } catch (error) {
    if (error instanceof CheckpointVerificationError)
      return reject("hash-mismatch", error.verification.problems.join("; "));
    return reject("unreadable", error instanceof Error ? error.message : String(error));
  }
  const m = checkpoint.manifest;
  if (
    m.runId !== global.manifest.runId ||
    m.round !== global.manifest.round ||
    m.parentRoot !== global.manifest.root
  ) {
    return reject(
      "wrong-parent",
      `checkpoint is run ${m.runId} round ${m.round} from ${m.parentRoot}; this round is run ${global.manifest.runId} round ${global.manifest.round} from ${global.manifest.root}`,
    );
  }
  const shapeProblem = checkShapes(checkpoint.tensors, spec);
  if (shapeProblem) return reject("shape", shapeProblem);
  const values = modelValues(checkpoint.tensors, spec);
  const nonFinite = firstNonFinite(values);
  if (nonFinite) return reject("non-finite", `non-finite parameter ${nonFinite}`);
  return { manifest: m, values };
}

function checkShapes(tensors: Readonly<Record<string, Tensor>>, spec: RunSpec): string | null {
  const expected = new Map(parameterShapes(spec.model));
  for (const [name, shape] of expected) {
    const t = tensors[name];
    if (!t) return `tensor ${name} is missing`;
    if (!["F32", "F16", "BF16"].includes(t.dtype)) return `tensor ${name} is ${t.dtype}, not a float type`;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      return `tensor ${name} has shape [${t.shape}], the model's is [${shape}]`;
    }
  }
  const extra = Object.keys(tensors).find((name) => !expected.has(name));
  return extra ? `tensor ${extra} is not a parameter of the model` : null;
}

/**
 * Rejects pseudo-gradients too large to be honest: larger than `maxNormRatio` × the median norm
 * of the candidates (needs three or more to tell), or moving a coordinate further than
 * `innerSteps` AdamW steps at the spec's learning rate can.
 */
function rejectNormOutliers<T extends { id: string; delta: Values }>(
  candidates: readonly T[],
  theta: Values,
  spec: RunSpec,
  rejected: Rejection[],
): T[] {
  const norms = candidates.map((c) => l2Norm(c.delta));
  const mid = median(norms);
  const travel = spec.innerSteps * spec.inner.lr * ADAM_MAX_STEP_IN_LRS;
  const bound = travel + spec.innerSteps * spec.inner.lr * spec.inner.weightDecay * (maxAbs(theta) + travel);
  return candidates.filter((c, i) => {
    const norm = norms[i]!;
    const largest = maxAbs(c.delta);
    let message: string | null = null;
    if (largest > bound) {
      message = `pseudo-gradient moves a parameter by ${largest.toPrecision(3)}, more than ${spec.innerSteps} AdamW steps at lr ${spec.inner.lr} can (${bound.toPrecision(3)})`;
    } else if (candidates.length >= 3 && mid > 0 && norm > spec.validation.maxNormRatio * mid) {
      message = `pseudo-gradient norm ${norm.toPrecision(3)} is ${(norm / mid).toFixed(1)}× the median ${mid.toPrecision(3)} (limit ${spec.validation.maxNormRatio}×)`;
    }
    if (message) rejected.push({ id: c.id, reason: "norm-outlier", message });
    return message === null;
  });
}

function nextGlobal(
  global: Checkpoint,
  theta: Values,
  accepted: readonly { delta: Values }[],
  spec: RunSpec,
) {
  const delta = aggregate(
    accepted.map((c) => c.delta),
    spec.outer.aggregation,
  );
  const momentum = previousMomentum(global, spec);
  const updated = outerUpdate(theta, delta, momentum, spec.outer);
  const tensors: Record<string, Tensor> = {};
  for (const [name, shape] of parameterShapes(spec.model)) {
    tensors[name] = floatTensor(shape, updated.params[name]!);
    tensors[`${MOMENTUM_PREFIX}${name}`] = floatTensor(shape, updated.momentum[name]!);
  }
  return { params: updated.params, tensors };
}

/** The momentum buffers stored in the global checkpoint, or undefined in round 0. */
function previousMomentum(global: Checkpoint, spec: RunSpec): Values | undefined {
  const names = parameterShapes(spec.model).map(([name]) => name);
  if (!names.some((n) => `${MOMENTUM_PREFIX}${n}` in global.tensors)) return undefined;
  return Object.fromEntries(
    names.map((n) => {
      const t = global.tensors[`${MOMENTUM_PREFIX}${n}`];
      if (!t)
        throw new Error(`global checkpoint ${global.dir} has momentum for some parameters but not ${n}`);
      return [n, toFloat32(t)];
    }),
  );
}

function mean(xs: readonly number[]): number | null {
  const finite = xs.filter(Number.isFinite);
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
}
