import {
  type CheckpointManifest,
  CheckpointUnreadableError,
  ManifestTooLargeError,
  readCheckpointManifest,
} from "../checkpoints/manifest.ts";
import { SafetensorsFormatError, SafetensorsHeaderTooLargeError } from "../checkpoints/safetensors.ts";
import { streamCheckpoint, type TensorLocation } from "../checkpoints/stream.ts";
import { type Tensor, toFloat32 } from "../checkpoints/tensor.ts";
import { sqrt } from "../model/ieeeMath.ts";
import { parameterShapes } from "../model/parameters.ts";
import { InvalidInputError } from "../spec/errors.ts";
import type { Bytes32, RunSpec } from "../spec/runSpec.ts";
import { checkReplicaManifest, type ReplicaBounds, ReplicaBoundsError } from "./bounds.ts";
import type { GlobalState } from "./global.ts";
import type { Defect, DeltaMeasure } from "./verdicts.ts";

/** One replica's output checkpoint as the outer step receives it. */
export type ReplicaInput =
  | {
      readonly id: string;
      /** The replica's index in the round (DAOTRAIN_REPLICA): which training shards it was assigned. */
      readonly index: number;
      /** Local directory of its output checkpoint. */
      readonly dir: string;
      /** The root the replica reported, if any: its bytes must hash to it. */
      readonly root?: Bytes32;
    }
  | {
      readonly id: string;
      readonly index: number;
      /** What fetching it already found wrong (staging from a bucket judges before it copies). */
      readonly defect: Defect;
    };

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);

/**
 * A replica's manifest, read no further than the bounds allow, refused when it is unreadable,
 * claims more (or fewer) bytes than the model takes, or belongs to another run, round or parent.
 */
export async function readReplicaManifest(
  dir: string,
  global: Pick<GlobalState, "manifest" | "root">,
  bounds: ReplicaBounds,
): Promise<CheckpointManifest | Defect> {
  let manifest: CheckpointManifest;
  try {
    manifest = await readCheckpointManifest(dir, bounds.manifestBytes);
    checkReplicaManifest(manifest, bounds);
  } catch (error) {
    return defectOf(error);
  }
  const parent = global.manifest;
  if (
    manifest.runId !== parent.runId ||
    manifest.round !== parent.round ||
    manifest.parentRoot !== global.root
  ) {
    return {
      reason: "wrong-parent",
      message: `checkpoint is run ${manifest.runId} round ${manifest.round} from ${manifest.parentRoot}; this round is run ${parent.runId} round ${parent.round} from ${global.root}`,
    };
  }
  return manifest;
}

/** What reading the replica's tensors found and kept. */
export interface ReplicaContents {
  readonly root: Bytes32;
  readonly delta: DeltaMeasure;
  /** θₖ by parameter name (one model's worth: the caller scores it and lets it go). */
  readonly values: Record<string, Float32Array>;
  /** Where each tensor lies, with its digest, for the aggregation's second read. */
  readonly tensors: ReadonlyMap<string, TensorLocation>;
}

/**
 * Reads the replica's shards once, front to back (checkpoints/stream.ts), and judges them on the
 * way: the bytes against the manifest (and the reported root), exactly the model's tensors in a
 * float type and the spec's shapes, finite values. Measures Δ = θ − θₖ as it goes — its norm, its
 * largest coordinate and its values at `sketch` (ascending positions in the flattened parameter
 * vector) — so θₖ is read once and Δ never held whole.
 */
export async function readReplicaTensors(
  dir: string,
  manifest: CheckpointManifest,
  reportedRoot: Bytes32 | undefined,
  global: GlobalState,
  spec: RunSpec,
  bounds: ReplicaBounds,
  sketch: Float64Array,
): Promise<ReplicaContents | Defect> {
  const expected = new Map(parameterShapes(spec.model));
  const values: Record<string, Float32Array> = {};
  const squares = new Map<string, number>();
  const sketched = new Float32Array(sketch.length);
  let maxAbs = 0;
  let shapeProblem: string | null = null;
  let nonFinite: string | null = null;
  const onTensor = (name: string, tensor: Tensor) => {
    shapeProblem ??= tensorProblem(name, tensor, expected);
    if (shapeProblem) return;
    const local = toFloat32(tensor);
    const theta = global.params[name]!;
    const offset = global.offsets.get(name)!;
    let sum = 0;
    let at = firstAtOrAfter(sketch, offset);
    for (let i = 0; i < local.length; i++) {
      const v = local[i]!;
      if (!Number.isFinite(v)) nonFinite ??= `${name}[${i}] = ${v}`;
      const d = Math.fround(theta[i]! - v);
      sum += d * d;
      maxAbs = Math.max(maxAbs, Math.abs(d));
      if (sketch[at] === offset + i) sketched[at++] = d;
    }
    squares.set(name, sum);
    values[name] = local;
  };
  let read: Awaited<ReturnType<typeof streamCheckpoint>>;
  try {
    read = await streamCheckpoint(dir, manifest, onTensor, {
      maxHeaderBytes: bounds.headerBytes,
      ...(reportedRoot ? { expectedRoot: reportedRoot } : {}),
    });
  } catch (error) {
    return defectOf(error);
  }
  if (!read.verification.ok)
    return { reason: "hash-mismatch", message: read.verification.problems.join("; ") };
  const missing = [...expected.keys()].find((name) => !(name in values));
  shapeProblem ??= missing ? `tensor ${missing} is missing` : null;
  if (shapeProblem) return { reason: "shape", message: shapeProblem };
  if (nonFinite) return { reason: "non-finite", message: `non-finite parameter ${nonFinite}` };
  // Per-tensor sums added in the model's order, whatever order the file had.
  let total = 0;
  for (const name of expected.keys()) total += squares.get(name)!;
  return {
    root: read.verification.root!,
    delta: { norm: sqrt(total), maxAbs, sketch: sketched },
    values,
    tensors: read.tensors,
  };
}

function tensorProblem(name: string, tensor: Tensor, expected: ReadonlyMap<string, number[]>): string | null {
  const shape = expected.get(name);
  if (!shape) return `tensor ${name} is not a parameter of the model`;
  if (!FLOAT_DTYPES.has(tensor.dtype)) return `tensor ${name} is ${tensor.dtype}, not a float type`;
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i]))
    return `tensor ${name} has shape [${tensor.shape}], the model's is [${shape}]`;
  return null;
}

/** The index of the first position ≥ `value` in an ascending array. */
function firstAtOrAfter(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The defect a failed read of a replica's files stands for; anything else is the worker's own failure. */
function defectOf(error: unknown): Defect {
  if (error instanceof ReplicaBoundsError) return { reason: error.reason, message: error.message };
  if (error instanceof ManifestTooLargeError || error instanceof SafetensorsHeaderTooLargeError)
    return { reason: "oversized", message: error.message };
  if (
    error instanceof CheckpointUnreadableError ||
    error instanceof SafetensorsFormatError ||
    error instanceof InvalidInputError
  )
    return { reason: "unreadable", message: error.message };
  throw error;
}
