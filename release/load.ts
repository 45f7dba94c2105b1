import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseSafetensors } from "../checkpoints/safetensors.ts";
import { valuesFromHuggingFace } from "../model/huggingface.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import { RELEASE_FILES, readReleaseManifest } from "./manifest.ts";
import { releasedSpec } from "./verify.ts";

/** A release's model, ready for the forward pass: its run spec and parameter values by daotrain name. */
export async function loadReleasedModel(
  dir: string,
): Promise<{ spec: RunSpec; values: Record<string, Float32Array> }> {
  const spec = releasedSpec(await readReleaseManifest(dir));
  const file = join(dir, RELEASE_FILES.weights);
  const { tensors } = parseSafetensors(file, await readFile(file));
  return { spec, values: valuesFromHuggingFace(tensors, spec.model) };
}
