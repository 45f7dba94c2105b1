import { createHash } from "node:crypto";
import { z } from "zod";
import {
  DEFECT_REASONS,
  type OuterStepResult,
  REJECTION_REASONS,
  type ReplicaEvidence,
  type RoundEvidence,
  type Verdict,
} from "../diloco/index.ts";
import { canonicalJson } from "../spec/canonicalJson.ts";
import { formatZodError } from "../spec/errors.ts";
import { Bytes32, type Compression, compressionOf, type RunSpec } from "../spec/runSpec.ts";

// The round record (`daotrain-round-record/1`): everything needed to redo a committed round, in
// canonical JSON, published in the run store under its sha256 before the commit and committed
// with the root. The worker writes it, auditors and verifiers read it; rounds/README.md lists its
// fields and why each is there.

export const ROUND_RECORD_FORMAT = "daotrain-round-record/1";

/** binary64 as JSON holds it: a finite number, or the name of a value JSON has no form for. */
const NON_FINITE = ["NaN", "Infinity", "-Infinity"] as const;
const Float64 = z.union([z.number(), z.enum(NON_FINITE)]);
type Float64 = z.infer<typeof Float64>;

const encodeFloat = (x: number): Float64 => (Number.isFinite(x) ? x : (String(x) as Float64));
const decodeFloat = (x: Float64): number => (typeof x === "number" ? x : Number(x));

/** The sketch's float32 values, little-endian, in base64: every bit kept, NaN payloads included. */
const SketchBase64 = z
  .string()
  .max(1 << 20)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");

function encodeSketch(sketch: Float32Array): string {
  const bytes = Buffer.alloc(sketch.length * 4);
  for (const [i, v] of sketch.entries()) bytes.writeFloatLE(v, i * 4);
  return bytes.toString("base64");
}

function decodeSketch(base64: string): Float32Array {
  const bytes = Buffer.from(base64, "base64");
  const sketch = new Float32Array(Math.floor(bytes.length / 4));
  for (let i = 0; i < sketch.length; i++) sketch[i] = bytes.readFloatLE(i * 4);
  return sketch;
}

const Index = z.number().int().min(0).max(1_000_000);
const Message = z.string().max(16_384);

const Defect = z.object({ reason: z.enum(DEFECT_REASONS), message: Message }).strict();

/** What a replica's verdict rests on: diloco's ReplicaEvidence, in JSON. */
const RecordedEvidence = z.union([
  z.object({ root: Bytes32.optional(), defect: Defect }).strict(),
  z
    .object({
      root: Bytes32,
      delta: z.object({ norm: Float64, maxAbs: Float64, sketch: SketchBase64 }).strict(),
      scores: z
        .object({
          heldOutLoss: Float64,
          ownShards: z.array(Index).max(4096),
          ownShardLoss: Float64,
          ownShardLossOfGlobal: Float64,
        })
        .strict(),
    })
    .strict(),
]);

const RecordedVerdict = z.discriminatedUnion("accepted", [
  z.object({ accepted: z.literal(true), message: Message }).strict(),
  z.object({ accepted: z.literal(false), reason: z.enum(REJECTION_REASONS), message: Message }).strict(),
]);

const RecordedReplica = z
  .object({
    /** DAOTRAIN_REPLICA: which training shards it was assigned, and its id in the outer step. */
    replica: Index,
    /** The on-chain id of the cluster it ran on. */
    clusterId: Bytes32,
    /** The training shards `assignShards` gave it. */
    shards: z.array(Index).max(100_000),
    /** Where its output checkpoint is (the run store's `…/clusters/<name>/replicas/<i>-a<attempt>`). */
    outputUri: z.string().min(1).max(2048),
    evidence: RecordedEvidence,
    verdict: RecordedVerdict,
  })
  .strict();
export type RecordedReplica = z.infer<typeof RecordedReplica>;

export const RoundRecord = z
  .object({
    format: z.literal(ROUND_RECORD_FORMAT),
    /** The run, which is also its spec's id (sha256 of the spec's canonical JSON). */
    runId: Bytes32,
    round: z.number().int().min(1),
    /** θ: the checkpoint the round trained from (round − 1's, or the initial one), and where it is. */
    parent: z.object({ root: Bytes32, uri: z.string().min(1).max(2048) }).strict(),
    datasetRoot: Bytes32,
    /** The spec's outer optimizer and aggregation rule, repeated for a reader without the spec. */
    outer: z
      .object({
        lr: z.number(),
        momentum: z.number(),
        nesterov: z.boolean(),
        aggregation: z.enum(["mean", "trimmed-mean"]),
        /** What replicas uploaded (`none`: θₖ; `int8`: the quantised pseudo-gradient), stated even when the spec leaves it out. */
        compression: z.enum(["none", "int8"] as const satisfies readonly Compression[]),
      })
      .strict(),
    /** θ's measures every verdict is judged against. */
    evidence: z.object({ globalMaxAbs: Float64, globalHeldOutLoss: Float64 }).strict(),
    /** Every output the last aggregation judged, in the order their pseudo-gradients are summed. */
    replicas: z.array(RecordedReplica).min(1).max(4096),
    /** The next global checkpoint: its root (what the chain commits) and where it was written. */
    root: Bytes32,
    manifestUri: z.string().min(1).max(2048),
  })
  .strict();
export type RoundRecord = z.infer<typeof RoundRecord>;

/** Where an output judged in the round came from. */
export interface JudgedOutput {
  replica: number;
  clusterId: Bytes32;
  outputUri: string;
  /** Its assigned training shards. */
  shards: readonly number[];
}

export interface RoundRecordInput {
  runId: Bytes32;
  round: number;
  spec: RunSpec;
  parent: { root: Bytes32; uri: string };
  /** In the outer step's order (its replica ids are the replica numbers). */
  outputs: readonly JudgedOutput[];
  step: Pick<OuterStepResult, "evidence" | "verdicts">;
  next: { root: Bytes32; manifestUri: string };
}

/** The spec's outer step as a record states it: every field, the upload form included. */
export function recordedOuter(spec: RunSpec): RoundRecord["outer"] {
  const { lr, momentum, nesterov, aggregation } = spec.outer;
  return { lr, momentum, nesterov, aggregation, compression: compressionOf(spec) };
}

/** The record of a round the outer step judged and whose next checkpoint was written. */
export function roundRecord(input: RoundRecordInput): RoundRecord {
  const { step } = input;
  const evidence = new Map(step.evidence.replicas.map((e) => [e.id, e]));
  const verdicts = new Map(step.verdicts.map((v) => [v.id, v]));
  return {
    format: ROUND_RECORD_FORMAT,
    runId: input.runId,
    round: input.round,
    parent: input.parent,
    datasetRoot: input.spec.dataset,
    outer: recordedOuter(input.spec),
    evidence: {
      globalMaxAbs: encodeFloat(step.evidence.globalMaxAbs),
      globalHeldOutLoss: encodeFloat(step.evidence.globalHeldOutLoss),
    },
    replicas: input.outputs.map((output) => {
      const id = String(output.replica);
      return {
        replica: output.replica,
        clusterId: output.clusterId,
        shards: [...output.shards],
        outputUri: output.outputUri,
        evidence: encodeEvidence(required(evidence.get(id), id)),
        verdict: encodeVerdict(required(verdicts.get(id), id)),
      };
    }),
    root: input.next.root,
    manifestUri: input.next.manifestUri,
  };
}

function required<T>(value: T | undefined, id: string): T {
  if (value === undefined) throw new Error(`the outer step judged no replica ${id}`);
  return value;
}

function encodeEvidence(e: ReplicaEvidence): RecordedReplica["evidence"] {
  if ("defect" in e) return { ...(e.root ? { root: e.root } : {}), defect: { ...e.defect } };
  return {
    root: e.root,
    delta: {
      norm: encodeFloat(e.delta.norm),
      maxAbs: encodeFloat(e.delta.maxAbs),
      sketch: encodeSketch(e.delta.sketch),
    },
    scores: {
      heldOutLoss: encodeFloat(e.scores.heldOutLoss),
      ownShards: [...e.scores.ownShards],
      ownShardLoss: encodeFloat(e.scores.ownShardLoss),
      ownShardLossOfGlobal: encodeFloat(e.scores.ownShardLossOfGlobal),
    },
  };
}

function encodeVerdict(v: Verdict): RecordedReplica["verdict"] {
  return v.accepted
    ? { accepted: true, message: v.message }
    : { accepted: false, reason: v.reason, message: v.message };
}

/** The evidence the record holds, as diloco's `judge` takes it. */
export function recordedEvidence(record: RoundRecord): RoundEvidence {
  return {
    globalRoot: record.parent.root,
    globalMaxAbs: decodeFloat(record.evidence.globalMaxAbs),
    globalHeldOutLoss: decodeFloat(record.evidence.globalHeldOutLoss),
    replicas: record.replicas.map(({ replica, evidence }): ReplicaEvidence => {
      const id = String(replica);
      if ("defect" in evidence)
        return { id, ...(evidence.root ? { root: evidence.root } : {}), defect: evidence.defect };
      return {
        id,
        root: evidence.root,
        delta: {
          norm: decodeFloat(evidence.delta.norm),
          maxAbs: decodeFloat(evidence.delta.maxAbs),
          sketch: decodeSketch(evidence.delta.sketch),
        },
        scores: {
          heldOutLoss: decodeFloat(evidence.scores.heldOutLoss),
          ownShards: evidence.scores.ownShards,
          ownShardLoss: decodeFloat(evidence.scores.ownShardLoss),
          ownShardLossOfGlobal: decodeFloat(evidence.scores.ownShardLossOfGlobal),
        },
      };
    }),
  };
}

/** The verdicts the record holds, as diloco's `judge` returns them. */
export function recordedVerdicts(record: RoundRecord): Verdict[] {
  return record.replicas.map(({ replica, verdict }) => ({ id: String(replica), ...verdict }));
}

/** The bytes published and hashed: the record's canonical JSON. */
export function roundRecordBytes(record: RoundRecord): Buffer {
  return Buffer.from(canonicalJson(record), "utf8");
}

/** What the chain commits: sha256 of the record's bytes. */
export function roundRecordHash(bytes: Uint8Array): Bytes32 {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A record's bytes are read no further than this: room for every replica's sketch and messages. */
export function roundRecordMaxBytes(spec: RunSpec): number {
  return 64 * 1024 + spec.replicasPerRound * 64 * 1024;
}

/** A record's bytes are not JSON of the schema. */
export class RoundRecordInvalidError extends Error {
  override readonly name = "RoundRecordInvalidError";
}

/** Parses a record's bytes (already checked against the committed hash), naming what is wrong. */
export function parseRoundRecord(bytes: Uint8Array): RoundRecord {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new RoundRecordInvalidError(`not JSON: ${(error as Error).message}`);
  }
  const parsed = RoundRecord.safeParse(data);
  if (!parsed.success) throw new RoundRecordInvalidError(formatZodError(parsed.error).join("; "));
  return parsed.data;
}
