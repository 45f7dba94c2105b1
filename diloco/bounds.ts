import type { CheckpointManifest } from "../checkpoints/manifest.ts";
import { dtypeBytes, elementCount } from "../checkpoints/tensor.ts";
import { runSpecMetadata } from "../model/parameters.ts";
import { type Compression, compressionOf, type RunSpec } from "../spec/runSpec.ts";
import { replicaTensors } from "./replicaForm.ts";

/**
 * How many bytes a replica's checkpoint may take, from the run spec alone: the model's parameter
 * shapes and the spec's `outer.compression` fix the tensor bytes (4 bytes an element in F32, 2 in
 * F16 / BF16; exactly 1 an element and 4 a block for an int8 pseudo-gradient), and the header and
 * manifest can only be so large for that many tensors. A replica is refused on these before the
 * worker reads or fetches a byte beyond them.
 */
export interface ReplicaBounds {
  /** What the spec asks replicas to upload. */
  readonly compression: Compression;
  /** manifest.json's size. */
  readonly manifestBytes: number;
  /** Shards: a tensor never straddles two, so at most one per tensor. */
  readonly shards: number;
  /** One shard's safetensors JSON header (its 8-byte length prefix excluded). */
  readonly headerBytes: number;
  /** The tensors' bytes, each in its smallest and in its largest allowed dtype. */
  readonly minDataBytes: number;
  readonly maxDataBytes: number;
}

/** Room left in every header for what a writer may add (spacing, its own metadata keys). */
const HEADER_SLACK_BYTES = 64 * 1024;
/** What one tensor's header entry may take beyond its name: dtype, shape and 20-digit offsets. */
const HEADER_BYTES_PER_TENSOR = 160;
/** A manifest's fixed fields and metrics, and one shard entry (path, bytes, sha256). */
const MANIFEST_BASE_BYTES = 64 * 1024;
const MANIFEST_BYTES_PER_SHARD = 256;

export function replicaBounds(spec: RunSpec): ReplicaBounds {
  const tensors = replicaTensors(spec);
  const bytes = (pick: (sizes: number[]) => number) =>
    tensors.reduce((n, t) => n + elementCount(t.shape) * pick(t.dtypes.map((d) => dtypeBytes[d])), 0);
  const names = tensors.reduce((n, t) => n + t.name.length, 0);
  const metadata = Object.entries(runSpecMetadata(spec)).reduce((n, [k, v]) => n + k.length + v.length, 0);
  return {
    compression: compressionOf(spec),
    manifestBytes: MANIFEST_BASE_BYTES + MANIFEST_BYTES_PER_SHARD * tensors.length,
    shards: tensors.length,
    // JSON escaping at most doubles a string; the metadata may be escaped throughout.
    headerBytes: HEADER_SLACK_BYTES + 2 * names + HEADER_BYTES_PER_TENSOR * tensors.length + 2 * metadata,
    minDataBytes: bytes((sizes) => Math.min(...sizes)),
    maxDataBytes: bytes((sizes) => Math.max(...sizes)),
  };
}

/** A replica's checkpoint claims more (or less) than the run spec allows; refused unread. */
export class ReplicaBoundsError extends Error {
  override readonly name = "ReplicaBoundsError";
  readonly reason: "oversized" | "shape";
  constructor(reason: "oversized" | "shape", message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Checks what a replica's manifest claims against the bounds, before any shard is read: the
 * shard count, each shard's size, and their total, which must lie between the tensors' bytes in
 * their smallest and largest dtypes (plus one header per shard). Throws ReplicaBoundsError.
 */
export function checkReplicaManifest(
  manifest: Pick<CheckpointManifest, "shards">,
  bounds: ReplicaBounds,
): void {
  const { shards } = manifest;
  if (shards.length > bounds.shards) {
    throw new ReplicaBoundsError(
      "oversized",
      `the manifest lists ${shards.length} shards; the output has ${bounds.shards} tensors, so at most ${bounds.shards}`,
    );
  }
  const maxShardBytes = 8 + bounds.headerBytes + bounds.maxDataBytes;
  const large = shards.find((s) => s.bytes > maxShardBytes);
  if (large) {
    throw new ReplicaBoundsError(
      "oversized",
      `shard ${large.path} claims ${large.bytes} bytes; one shard of this model takes at most ${maxShardBytes}`,
    );
  }
  const total = shards.reduce((n, s) => n + s.bytes, 0);
  const maxTotal = bounds.maxDataBytes + shards.length * (8 + bounds.headerBytes);
  if (total > maxTotal) {
    throw new ReplicaBoundsError(
      "oversized",
      `its shards claim ${total} bytes; the model's tensors and ${shards.length} header(s) take at most ${maxTotal}`,
    );
  }
  if (total < bounds.minDataBytes) {
    throw new ReplicaBoundsError(
      "shape",
      `its shards claim ${total} bytes, fewer than the model's parameters take ${bounds.compression === "int8" ? "as an int8 pseudo-gradient with its scales" : "in 2-byte floats"} (${bounds.minDataBytes})`,
    );
  }
}
