import { int8PseudoGradientTensors, pseudoGradientInto } from "../checkpoints/pseudoGradient.ts";
import type { Tensor } from "../checkpoints/tensor.ts";
import { parameterShapes, toTensors } from "../model/parameters.ts";
import { compressionOf, type RunSpec } from "../spec/runSpec.ts";

/**
 * The tensors a replica delivers for its round, in the form the run spec asks
 * (`outer.compression`): its trained parameters θₖ in float32, or its pseudo-gradient θ − θₖ in
 * int8 with a scale per block (checkpoints/pseudoGradient.ts), about a quarter of the bytes.
 */
export function replicaOutputTensors(
  theta: Readonly<Record<string, Float32Array>>,
  trained: Readonly<Record<string, Float32Array>>,
  spec: RunSpec,
): Record<string, Tensor> {
  if (compressionOf(spec) === "none") return toTensors(trained, spec.model);
  return int8PseudoGradientTensors(
    parameterShapes(spec.model).map(([name]) => {
      const delta = new Float32Array(theta[name]!.length);
      pseudoGradientInto(delta, theta[name]!, trained[name]!);
      return delta;
    }),
  );
}
