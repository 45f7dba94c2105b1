import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { parseRunSpec, type RunSpec, type RunSpecInput } from "../spec/runSpec.ts";

// The run the demo trains: the spec in examples/demo-run.yaml, or its reduced form (what the
// tests run), on the shipped corpus packed in small shards. One place, so that the demo and the
// DiLoCo bench (bench/diloco.ts) train the same thing.

const projectFile = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

export const DEMO_CORPUS = projectFile("datasets/corpus/fables.txt");
export const DEMO_SPEC_FILE = projectFile("examples/demo-run.yaml");
/** Small shards, so that every replica of a round trains on shards of its own. */
export const DEMO_SHARD_TOKENS = 16_384;

/**
 * What `--reduced` changes: a smaller model and fewer, smaller steps. Its outer optimizer is the
 * full demo's (bench/README.md, "DiLoCo": why those values fall every round in both).
 */
export const REDUCED_DEMO: Partial<RunSpecInput> = {
  model: {
    architecture: "transformer-lm",
    vocabSize: 256,
    contextLength: 32,
    dModel: 32,
    layers: 1,
    heads: 2,
  },
  innerSteps: 8,
  inner: { optimizer: "adamw", lr: 0.005, batch: 4 },
  validation: { batches: 2, tolerance: 0.5 },
};

export interface DemoRunOptions {
  reduced: boolean;
  /** The spec file's rounds when omitted. */
  rounds?: number;
  dataset: `0x${string}`;
  /** Any other field replaced (a bench's variant). */
  overrides?: Partial<RunSpecInput>;
}

export async function demoRunSpec(options: DemoRunOptions): Promise<RunSpec> {
  const base = parseYaml(await readFile(DEMO_SPEC_FILE, "utf8")) as RunSpecInput;
  return parseRunSpec(
    {
      ...base,
      ...(options.reduced ? REDUCED_DEMO : {}),
      ...(options.rounds === undefined ? {} : { rounds: options.rounds }),
      ...options.overrides,
      dataset: options.dataset,
    },
    DEMO_SPEC_FILE,
  );
}
