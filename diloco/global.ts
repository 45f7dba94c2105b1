import type { CheckpointManifest } from "../checkpoints/manifest.ts";
import { readCheckpointManifest } from "../checkpoints/manifest.ts";
import { streamCheckpoint } from "../checkpoints/stream.ts";
import { elementCount, toFloat32 } from "../checkpoints/tensor.ts";
import { CheckpointVerificationError } from "../checkpoints/verify.ts";
import { MOMENTUM_PREFIX } from "../model/huggingface.ts";
import { parameterShapes } from "../model/parameters.ts";
import { type Bytes32, type RunSpec, runIdOf } from "../spec/runSpec.ts";

// The outer optimizer's momentum tensors in a global checkpoint are named MOMENTUM_PREFIX + param;
// trainers ignore them, and a release moves them into a file of their own.
export { MOMENTUM_PREFIX };

export type Values = Readonly<Record<string, Float32Array>>;

/** The round's global checkpoint θ, verified, with what the outer step needs of it in memory. */
export interface GlobalState {
  readonly dir: string;
  readonly manifest: CheckpointManifest;
  /** Recomputed from its bytes. */
  readonly root: Bytes32;
  /** θ, by parameter name. */
  readonly params: Values;
  /** The outer optimizer's buffer b, or undefined before the first outer step. */
  readonly momentum: Values | undefined;
  /** The largest |θ| coordinate. */
  readonly maxAbs: number;
  /** Where each parameter starts in the flattened parameter vector (parameterShapes order). */
  readonly offsets: ReadonlyMap<string, number>;
  /** Parameters in all. */
  readonly size: number;
}

/**
 * Reads θ once, verifying its bytes as they are read (against `expectedRoot` when given), and
 * refuses a checkpoint of another run or one whose momentum covers only some parameters.
 */
export async function readGlobal(dir: string, spec: RunSpec, expectedRoot?: Bytes32): Promise<GlobalState> {
  const manifest = await readCheckpointManifest(dir);
  const runId = runIdOf(spec);
  if (manifest.runId !== runId)
    throw new Error(`global checkpoint ${dir} belongs to run ${manifest.runId}, not ${runId}`);
  const all: Record<string, Float32Array> = {};
  const read = await streamCheckpoint(
    dir,
    manifest,
    (name, tensor) => {
      all[name] = toFloat32(tensor);
    },
    expectedRoot ? { expectedRoot } : {},
  );
  if (!read.verification.ok) throw new CheckpointVerificationError(dir, read.verification);

  const shapes = parameterShapes(spec.model);
  const params: Record<string, Float32Array> = {};
  const momentum: Record<string, Float32Array> = {};
  const offsets = new Map<string, number>();
  let size = 0;
  let maxAbs = 0;
  for (const [name, shape] of shapes) {
    const values = all[name];
    if (!values || values.length !== elementCount(shape))
      throw new Error(`global checkpoint ${dir} has no parameter ${name} of shape [${shape}]`);
    params[name] = values;
    offsets.set(name, size);
    size += values.length;
    for (let i = 0; i < values.length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]!));
    const buffer = all[`${MOMENTUM_PREFIX}${name}`];
    if (buffer) momentum[name] = buffer;
  }
  const buffers = Object.keys(momentum).length;
  if (buffers !== 0 && buffers !== shapes.length)
    throw new Error(
      `global checkpoint ${dir} has momentum for ${buffers} of its ${shapes.length} parameters`,
    );
  return {
    dir,
    manifest,
    root: read.verification.root!,
    params,
    momentum: buffers ? momentum : undefined,
    maxAbs,
    offsets,
    size,
  };
}
