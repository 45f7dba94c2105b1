import {
  type CheckpointManifest,
  CheckpointUnreadableError,
  ManifestTooLargeError,
  readCheckpointManifest,
} from "../checkpoints/manifest.ts";
import { dequantiseInt8, INT8_SCALES_TENSOR, INT8_VALUES_TENSOR } from "../checkpoints/pseudoGradient.ts";
import { SafetensorsFormatError, SafetensorsHeaderTooLargeError } from "../checkpoints/safetensors.ts";
import { streamCheckpoint } from "../checkpoints/stream.ts";
import { type Tensor, toFloat32 } from "../checkpoints/tensor.ts";
import { sqrt } from "../model/ieeeMath.ts";
import { parameterShapes } from "../model/parameters.ts";
import { InvalidInputError } from "../spec/errors.ts";
import { type Bytes32, compressionOf, type RunSpec } from "../spec/runSpec.ts";
import { checkReplicaManifest, type ReplicaBounds, ReplicaBoundsError } from "./bounds.ts";
import type { GlobalState } from "./global.ts";
import { type DeltaSource, type ExpectedTensor, replicaTensors } from "./replicaForm.ts";
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
  /**
   * θₖ by parameter name (one model's worth: the caller scores it and lets it go); only when
   * `keepValues` was asked for.
   */
  readonly values?: Record<string, Float32Array>;
  /** Where its pseudo-gradient lies, with the digests, for the aggregation's second read. */
  readonly source: DeltaSource;
}

/**
 * Reads the replica's shards once, front to back (checkpoints/stream.ts), and judges them on the
 * way: the bytes against the manifest (and the reported root), exactly the tensors the spec's form
 * takes (replicaForm.ts) in their dtypes and shapes, finite values. Measures Δ = θ − θₖ — its norm,
 * its largest coordinate and its values at `sketch` (ascending positions in the flattened
 * parameter vector) — so Δ is never held whole. Of parameters θₖ, Δ is measured coordinate by
 * coordinate as the tensors come, into no array of its own; of an int8 pseudo-gradient, Δ is
 * dequantised once both its tensors are read and the bytes verified, and θₖ = θ − Δ is what the
 * replica is scored on. `keepValues`: also return θₖ, for a caller that scores the replica here;
 * without it the tensors are read into one reused buffer and nothing of them is kept.
 */
export async function readReplicaTensors(
  dir: string,
  manifest: CheckpointManifest,
  reportedRoot: Bytes32 | undefined,
  global: GlobalState,
  spec: RunSpec,
  bounds: ReplicaBounds,
  sketch: Float64Array,
  keepValues: boolean,
): Promise<ReplicaContents | Defect> {
  const expected = new Map(replicaTensors(spec).map((t) => [t.name, t]));
  const form = compressionOf(spec);
  const measure = new DeltaMeasurer(global, sketch);
  const seen = new Set<string>();
  /** The int8 form's two tensors, until both are read. */
  const quantised = new Map<string, Tensor>();
  const values: Record<string, Float32Array> = {};
  let shapeProblem: string | null = null;
  const onTensor = (name: string, tensor: Tensor) => {
    shapeProblem ??= tensorProblem(name, tensor, expected);
    if (shapeProblem) return;
    seen.add(name);
    if (form === "int8") {
      quantised.set(name, tensor);
      return;
    }
    const local = toFloat32(tensor);
    measure.addParameter(name, local);
    if (keepValues) values[name] = local;
  };
  let read: Awaited<ReturnType<typeof streamCheckpoint>>;
  try {
    read = await streamCheckpoint(dir, manifest, onTensor, {
      maxHeaderBytes: bounds.headerBytes,
      ...(reportedRoot ? { expectedRoot: reportedRoot } : {}),
      // The int8 form's two tensors are kept until both are read.
      transient: form !== "int8" && !keepValues,
    });
  } catch (error) {
    return defectOf(error);
  }
  if (!read.verification.ok)
    return { reason: "hash-mismatch", message: read.verification.problems.join("; ") };
  const missing = [...expected.keys()].find((name) => !seen.has(name));
  shapeProblem ??= missing ? `tensor ${missing} is missing` : null;
  if (shapeProblem) return { reason: "shape", message: shapeProblem };
  if (form === "int8") {
    const local = dequantised(quantised, global, measure, spec);
    if (keepValues) Object.assign(values, local);
  }
  if (measure.nonFinite) return { reason: "non-finite", message: `non-finite ${measure.nonFinite}` };
  const source: DeltaSource =
    form === "int8"
      ? {
          form,
          values: read.tensors.get(INT8_VALUES_TENSOR)!,
          scales: read.tensors.get(INT8_SCALES_TENSOR)!,
        }
      : { form: "parameters", tensors: read.tensors };
  return {
    root: read.verification.root!,
    delta: measure.result(spec),
    ...(keepValues ? { values } : {}),
    source,
  };
}

/**
 * An int8 pseudo-gradient's Δ, parameter by parameter in the model's order, measured, and the θₖ
 * it stands for: θ − Δ in float32.
 */
function dequantised(
  quantised: ReadonlyMap<string, Tensor>,
  global: GlobalState,
  measure: DeltaMeasurer,
  spec: RunSpec,
): Record<string, Float32Array> {
  const names = parameterShapes(spec.model).map(([name]) => name);
  const deltas = dequantiseInt8(
    quantised.get(INT8_VALUES_TENSOR)!,
    quantised.get(INT8_SCALES_TENSOR)!,
    names.map((name) => global.params[name]!.length),
  );
  const values: Record<string, Float32Array> = {};
  let i = 0;
  for (const delta of deltas) {
    const name = names[i++]!;
    const theta = global.params[name]!;
    measure.addPseudoGradient(name, delta);
    const local = new Float32Array(theta.length);
    for (let c = 0; c < local.length; c++) local[c] = theta[c]! - delta[c]!;
    values[name] = local;
  }
  return values;
}

/**
 * Δ's measures, one parameter at a time in any order: its squared norm per parameter (summed in
 * the model's order at the end, whatever order the file had), largest coordinate, sketch values,
 * and the first non-finite value the replica delivered.
 */
class DeltaMeasurer {
  readonly #global: GlobalState;
  readonly #sketch: Float64Array;
  readonly #sketched: Float32Array;
  readonly #squares = new Map<string, number>();
  #maxAbs = 0;
  nonFinite: string | null = null;

  constructor(global: GlobalState, sketch: Float64Array) {
    this.#global = global;
    this.#sketch = sketch;
    this.#sketched = new Float32Array(sketch.length);
  }

  /** θₖ's values of one parameter: Δ = θ − θₖ rounded to float32 (pseudoGradientInto's), coordinate by coordinate. */
  addParameter(name: string, local: Float32Array): void {
    this.#add(name, "parameter", local, this.#global.params[name]!);
  }

  /** Δ's own values of one parameter, as an int8 pseudo-gradient delivers them. */
  addPseudoGradient(name: string, delta: Float32Array): void {
    this.#add(name, "pseudo-gradient", delta, undefined);
  }

  /** `delivered` is what the replica's bytes hold for this parameter: θₖ (with `theta`), or Δ itself. */
  #add(
    name: string,
    kind: "parameter" | "pseudo-gradient",
    delivered: Float32Array,
    theta: Float32Array | undefined,
  ): void {
    const offset = this.#global.offsets.get(name)!;
    const sketch = this.#sketch;
    let sum = 0;
    let maxAbs = this.#maxAbs;
    const deltaAt = (i: number) => (theta ? Math.fround(theta[i]! - delivered[i]!) : delivered[i]!);
    const end = delivered.length;
    // From one sampled coordinate to the next, a loop with nothing else in it.
    for (let at = firstAtOrAfter(sketch, offset), i = 0; i < end; ) {
      const sampled = at < sketch.length ? sketch[at]! - offset : end;
      for (const stop = Math.min(sampled + 1, end); i < stop; i++) {
        const d = deltaAt(i);
        sum += d * d;
        const size = Math.abs(d);
        if (size > maxAbs) maxAbs = size;
      }
      if (sampled < end) this.#sketched[at++] = deltaAt(sampled);
    }
    this.#maxAbs = maxAbs;
    this.#squares.set(name, sum);
    // A sum of float32 squares overflows no binary64: it is not finite only where some Δ is not,
    // and so only then is there a delivered value to look for.
    if (!Number.isFinite(sum) && this.nonFinite === null) {
      const i = delivered.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) this.nonFinite = `${kind} ${name}[${i}] = ${delivered[i]}`;
    }
  }

  result(spec: RunSpec): DeltaMeasure {
    let total = 0;
    for (const [name] of parameterShapes(spec.model)) total += this.#squares.get(name)!;
    return { norm: sqrt(total), maxAbs: this.#maxAbs, sketch: this.#sketched };
  }
}

function tensorProblem(
  name: string,
  tensor: Tensor,
  expected: ReadonlyMap<string, ExpectedTensor>,
): string | null {
  const want = expected.get(name);
  if (!want) return `tensor ${name} is not part of this run's output`;
  if (!want.dtypes.includes(tensor.dtype))
    return `tensor ${name} is ${tensor.dtype}, not ${want.dtypes.join(" / ")}`;
  if (tensor.shape.length !== want.shape.length || tensor.shape.some((d, i) => d !== want.shape[i]))
    return `tensor ${name} has shape [${tensor.shape}], the run's is [${want.shape}]`;
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
