import { createHash } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "./canonicalJson.ts";
import { formatZodError, InvalidInputError } from "./errors.ts";
import { byteQuantity, cpuQuantity } from "./quantity.ts";

/** A 0x-prefixed 32-byte hex value: dataset roots, checkpoint roots, run ids. */
export const Bytes32 = z
  .string()
  .regex(/^0x[0-9a-f]{64}$/, "must be 0x followed by 64 lowercase hex digits")
  .transform((s) => s as `0x${string}`);
export type Bytes32 = z.infer<typeof Bytes32>;

/**
 * A container image pinned by digest (`registry/name@sha256:<64 hex>`, an optional tag before the
 * digest is kept but the digest decides): a tag can be moved after the vote, a digest cannot, so
 * the code contributors run is exactly the code the DAO voted on. The grammar is the OCI
 * distribution reference's (lowercase path components, an optional `host[:port]/` first).
 */
const PINNED_IMAGE =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$/;
export const PinnedImage = z
  .string()
  .max(512)
  .regex(
    PINNED_IMAGE,
    "must be pinned by digest (registry/name@sha256:<64 hex digits>), not a tag: a tag can point at other code after the vote; find the digest with `docker buildx imagetools inspect <image>`",
  );

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

/**
 * What each replica's pod gets (requests = limits), as Kubernetes quantities. Bounded so that a
 * spec cannot ask for a pod no node could hold; `ephemeralStorage` also caps the pod's `/tmp`
 * (where a trainer stages its inputs and output).
 */
export const ReplicaResources = z
  .object({
    cpu: cpuQuantity(0.1, 256).default("1"),
    memory: byteQuantity("256Mi", "4Ti").default("2Gi"),
    ephemeralStorage: byteQuantity("256Mi", "64Ti").default("20Gi"),
  })
  .strict();
export type ReplicaResources = z.infer<typeof ReplicaResources>;
/** What a replica gets when the spec names no resources: 1 CPU, 2 GiB, 20 GiB of /tmp. */
export const DEFAULT_REPLICA_RESOURCES: ReplicaResources = ReplicaResources.parse({});

/** A value of the `nvidia.com/gpu.product` node label (a Kubernetes label value). */
const GpuProduct = z
  .string()
  .regex(
    /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    "must be a GPU product as nodes label it, e.g. NVIDIA-H100-80GB-HBM3",
  );

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
    /**
     * The longest a replica may run in a round before it is dropped as lost. The DAO approves it
     * with the run: it bounds what a round can credit (replicasPerRound × gpusPerReplica × this).
     */
    roundDeadlineSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .default(6 * 3600),
    gpuHourBudget: z.number().positive(),
    /** Reward token units (wei of the DAO's ERC-20) per GPU-hour, as a decimal string. */
    rewardPerGpuHour: z.string().regex(/^[0-9]+$/, "must be a whole number of token base units"),
    outer: z
      .object({
        lr: z.number().positive().default(0.7),
        momentum: z.number().min(0).max(1).default(0.9),
        nesterov: z.boolean().default(true),
        aggregation: z.enum(["mean", "trimmed-mean"]).default("mean"),
        /**
         * What a replica uploads: its parameters θₖ (`none`), or its pseudo-gradient θ − θₖ in
         * int8 with a float32 scale per block (`int8`, a quarter of the bytes; checkpoints/README.md).
         * `none` is parsed to absent, so a spec that names it has the id of one that does not, and
         * run ids from before the option existed stay what they were.
         */
        compression: z
          .enum(["none", "int8"])
          .optional()
          .transform((c) => (c === "none" ? undefined : c)),
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
    /** The trainer image, pinned by digest. */
    image: PinnedImage,
    /**
     * Per replica; absent means DEFAULT_REPLICA_RESOURCES. Optional rather than defaulted so that
     * the ids of specs written before it stay what they were.
     */
    resources: ReplicaResources.optional(),
    /** Only GPUs of this product (the `nvidia.com/gpu.product` node label), when given. */
    gpuProduct: GpuProduct.optional(),
  })
  .strict()
  .refine((s) => s.minReplicas <= s.replicasPerRound, {
    message: "minReplicas must not exceed replicasPerRound",
    path: ["minReplicas"],
  });
export type RunSpec = z.infer<typeof RunSpec>;
export type RunSpecInput = z.input<typeof RunSpec>;

export type Compression = "none" | "int8";

/** The form replicas upload their round's work in (`outer.compression`, absent meaning `none`). */
export function compressionOf(spec: RunSpec): Compression {
  return spec.outer.compression ?? "none";
}

/** Parses an untrusted run spec; the error names every field that is wrong. */
export function parseRunSpec(input: unknown, source = "run spec"): RunSpec {
  const result = RunSpec.safeParse(input);
  if (!result.success) throw new InvalidInputError(source, formatZodError(result.error));
  return result.data;
}

/** The run's id: sha256 of the canonical JSON of the parsed spec (defaults filled in). */
export function runIdOf(spec: RunSpec): Bytes32 {
  return `0x${createHash("sha256").update(canonicalJson(spec)).digest("hex")}`;
}

export { runWorkflowId } from "./workflowIds.ts";
