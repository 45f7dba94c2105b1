import { INT8_SCALES_TENSOR, INT8_VALUES_TENSOR, int8Layout } from "../checkpoints/pseudoGradient.ts";
import type { TensorLocation } from "../checkpoints/stream.ts";
import { type DType, elementCount } from "../checkpoints/tensor.ts";
import { parameterShapes } from "../model/parameters.ts";
import { compressionOf, type RunSpec } from "../spec/runSpec.ts";

/** A tensor a replica's output must hold: its name, the dtypes it may take, and its shape. */
export interface ExpectedTensor {
  readonly name: string;
  readonly dtypes: readonly DType[];
  readonly shape: readonly number[];
}

const FLOAT_DTYPES: readonly DType[] = ["F32", "F16", "BF16"];

/**
 * Exactly the tensors a replica's output holds under the run spec's `outer.compression`: every
 * parameter θₖ in a float type (`none`), or the int8 pseudo-gradient's two tensors (`int8`,
 * checkpoints/pseudoGradient.ts). The form is the spec's, not the replica's choice: an int8 run
 * refuses float parameters (four times the bytes it allows) and a `none` run an int8 output.
 */
export function replicaTensors(spec: RunSpec): ExpectedTensor[] {
  const shapes = parameterShapes(spec.model);
  if (compressionOf(spec) === "none")
    return shapes.map(([name, shape]) => ({ name, dtypes: FLOAT_DTYPES, shape }));
  const layout = int8Layout(shapes.map(([, shape]) => elementCount(shape)));
  return [
    { name: INT8_VALUES_TENSOR, dtypes: ["I8"], shape: [layout.values] },
    { name: INT8_SCALES_TENSOR, dtypes: ["F32"], shape: [layout.scales] },
  ];
}

/** Where a validated replica's pseudo-gradient lies, for the aggregation's second read (deltaReader.ts). */
export type DeltaSource =
  /** θₖ, one tensor per parameter: Δ = θ − θₖ. */
  | { readonly form: "parameters"; readonly tensors: ReadonlyMap<string, TensorLocation> }
  /** Δ itself, quantised over the flattened parameter vector. */
  | { readonly form: "int8"; readonly values: TensorLocation; readonly scales: TensorLocation };
