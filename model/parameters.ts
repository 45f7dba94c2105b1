import { NO_PARENT } from "../checkpoints/manifest.ts";
import { floatTensor, type Tensor } from "../checkpoints/tensor.ts";
import type { CheckpointFields } from "../checkpoints/write.ts";
import { canonicalJson } from "../spec/canonicalJson.ts";
import { type ModelSpec, parseRunSpec, type RunSpec, runIdOf } from "../spec/runSpec.ts";
import { SeededRandom } from "../spec/seededRandom.ts";

/**
 * The parameters of daotrain's transformer language model, GPT-2 style (pre-LayerNorm blocks,
 * learned positions, output projection tied to the token embedding), named as GPT-2 names them
 * so that the checkpoints read naturally in the open-weights ecosystem. Matrices are [in, out].
 */
export function parameterShapes(model: ModelSpec): [name: string, shape: number[]][] {
  const d = model.dModel;
  const f = d * model.ffnMultiplier;
  const shapes: [string, number[]][] = [
    ["wte", [model.vocabSize, d]],
    ["wpe", [model.contextLength, d]],
  ];
  for (let l = 0; l < model.layers; l++) {
    shapes.push(
      [`h.${l}.ln_1.weight`, [d]],
      [`h.${l}.ln_1.bias`, [d]],
      [`h.${l}.attn.c_attn.weight`, [d, 3 * d]],
      [`h.${l}.attn.c_attn.bias`, [3 * d]],
      [`h.${l}.attn.c_proj.weight`, [d, d]],
      [`h.${l}.attn.c_proj.bias`, [d]],
      [`h.${l}.ln_2.weight`, [d]],
      [`h.${l}.ln_2.bias`, [d]],
      [`h.${l}.mlp.c_fc.weight`, [d, f]],
      [`h.${l}.mlp.c_fc.bias`, [f]],
      [`h.${l}.mlp.c_proj.weight`, [f, d]],
      [`h.${l}.mlp.c_proj.bias`, [d]],
    );
  }
  shapes.push(["ln_f.weight", [d]], ["ln_f.bias", [d]]);
  return shapes;
}

/** GPT-2's initialisation: N(0, 0.02) matrices (residual projections scaled by 1/√(2·layers)), zero biases, unit LayerNorm gains. */
export function initialParameters(model: ModelSpec, seed: number): Record<string, Float32Array> {
  const random = new SeededRandom(seed, 0x1a17);
  const params: Record<string, Float32Array> = {};
  for (const [name, shape] of parameterShapes(model)) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith("ln_1.weight") || name.endsWith("ln_2.weight") || name === "ln_f.weight")
      values.fill(1);
    else if (shape.length === 2) {
      const std =
        name === "wpe" ? 0.01 : name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2 * model.layers) : 0.02;
      for (let i = 0; i < values.length; i++) values[i] = random.normal() * std;
    }
    params[name] = values;
  }
  return params;
}

/** Metadata key under which every checkpoint shard carries its run spec (covered by the root). */
export const RUN_SPEC_METADATA_KEY = "daotrain.runSpec";

export function runSpecMetadata(spec: RunSpec): Record<string, string> {
  return { format: "pt", [RUN_SPEC_METADATA_KEY]: canonicalJson(spec) };
}

/** The run spec a checkpoint carries, parsed; throws naming the checkpoint when it has none. */
export function runSpecFromMetadata(metadata: Readonly<Record<string, string>>, source: string): RunSpec {
  const text = metadata[RUN_SPEC_METADATA_KEY];
  if (text === undefined)
    throw new Error(`${source} carries no run spec (safetensors metadata ${RUN_SPEC_METADATA_KEY})`);
  return parseRunSpec(JSON.parse(text), `${source} metadata ${RUN_SPEC_METADATA_KEY}`);
}

export function toTensors(
  params: Readonly<Record<string, Float32Array>>,
  model: ModelSpec,
): Record<string, Tensor> {
  const tensors: Record<string, Tensor> = {};
  for (const [name, shape] of parameterShapes(model)) tensors[name] = floatTensor(shape, params[name]!);
  return tensors;
}

/** Round 0 of a run: the parameters drawn from the spec's seed, and the fields of their checkpoint. */
export function initialCheckpoint(spec: RunSpec): {
  tensors: Record<string, Tensor>;
  fields: CheckpointFields;
} {
  return {
    tensors: toTensors(initialParameters(spec.model, spec.seed), spec.model),
    fields: {
      runId: runIdOf(spec),
      round: 0,
      parentRoot: NO_PARENT,
      metrics: { loss: null, valLoss: null, tokens: 0, steps: 0 },
      metadata: runSpecMetadata(spec),
    },
  };
}
