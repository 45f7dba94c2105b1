import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { canonicalJson } from "./canonicalJson.ts";
import { formatZodError, InvalidInputError } from "./errors.ts";

/** A 0x-prefixed 32-byte hex value: dataset roots, checkpoint roots, run ids. */
export const Bytes32 = z
  .string()
  .regex(/^0x[0-9a-f]{64}$/, "must be 0x followed by 64 lowercase hex digits")
  .transform((s) => s as `0x${string}`);
export type Bytes32 = z.infer<typeof Bytes32>;

export const ModelSpec = z
  .object({
    architecture: z.literal("transformer-lm"),
    vocabSize: z.number().int().min(2).max(65_536),
    contextLength: z.number().int().min(2).max(4096),
    dModel: z.number().int().min(8).max(8192),
    layers: z.number().int().min(1).max(96),
    heads: z.number().int().min(1).max(128),
    ffnMultiplier: z.number().int().min(1).max(8).default(4),
  })
  .strict()
  .refine((m) => m.dModel % m.heads === 0, {
    message: "dModel must be a multiple of heads",
    path: ["heads"],
  });
export type ModelSpec = z.infer<typeof ModelSpec>;

export const RunSpec = z
  .object({
    name: z.string().min(1).max(120),
    model: ModelSpec,
    dataset: Bytes32,
    rounds: z.number().int().min(1).max(10_000),
    innerSteps: z.number().int().min(1).max(1_000_000),
    replicasPerRound: z.number().int().min(1).max(65_536),
    minReplicas: z.number().int().min(1),
    gpusPerReplica: z.number().int().min(0).max(64),
    gpuHourBudget: z.number().positive(),
    /** Reward token units (wei of the DAO's ERC-20) per GPU-hour, as a decimal string. */
    rewardPerGpuHour: z.string().regex(/^[0-9]+$/, "must be a whole number of token base units"),
    outer: z
      .object({
        lr: z.number().positive().default(0.7),
        momentum: z.number().min(0).max(1).default(0.9),
        nesterov: z.boolean().default(true),
        aggregation: z.enum(["mean", "trimmed-mean"]).default("mean"),
      })
      .strict(),
    inner: z
      .object({
        optimizer: z.literal("adamw"),
        lr: z.number().positive(),
        weightDecay: z.number().min(0).default(0.01),
        batch: z.number().int().min(1).max(4096),
      })
      .strict(),
    validation: z
      .object({
        batches: z.number().int().min(1).max(10_000),
        tolerance: z.number().min(0),
        maxNormRatio: z.number().positive().default(10),
      })
      .strict(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    image: z.string().min(1),
  })
  .strict()
  .refine((s) => s.minReplicas <= s.replicasPerRound, {
    message: "minReplicas must not exceed replicasPerRound",
    path: ["minReplicas"],
  });
export type RunSpec = z.infer<typeof RunSpec>;
export type RunSpecInput = z.input<typeof RunSpec>;

/** Parses an untrusted run spec; the error names every field that is wrong. */
export function parseRunSpec(input: unknown, source = "run spec"): RunSpec {
  const result = RunSpec.safeParse(input);
  if (!result.success) throw new InvalidInputError(source, formatZodError(result.error));
  return result.data;
}

export async function readRunSpecFile(path: string): Promise<RunSpec> {
  const text = await readFile(path, "utf8");
  const data = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  return parseRunSpec(data, path);
}

/** The run's id: sha256 of the canonical JSON of the parsed spec (defaults filled in). */
export function runIdOf(spec: RunSpec): Bytes32 {
  return `0x${createHash("sha256").update(canonicalJson(spec)).digest("hex")}`;
}

export { runWorkflowId } from "./workflowIds.ts";
