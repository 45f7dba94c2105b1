import { join } from "node:path";
import { InvalidInputError } from "../spec/errors.ts";
import type { Bytes32 } from "../spec/runSpec.ts";
import { type FileHash, type HashFilesOptions, hashFiles } from "./hashFiles.ts";
import {
  type CheckpointManifest,
  type CheckpointShard,
  CheckpointUnreadableError,
  readCheckpointManifest,
} from "./manifest.ts";
import { merkleRoot } from "./merkle.ts";

export interface ShardCheck {
  readonly path: string;
  /** What the file holds now, recomputed. */
  readonly bytes: number;
  readonly sha256: string;
  readonly ok: boolean;
  /** Why the shard failed, when it did. */
  readonly problem?: string;
}

export interface CheckpointVerification {
  readonly ok: boolean;
  /** The root recomputed from the shards' bytes; null when a shard could not be read. */
  readonly root: Bytes32 | null;
  readonly shards: readonly ShardCheck[];
  /** Every reason the checkpoint failed, each naming the file or root concerned; empty when ok. */
  readonly problems: readonly string[];
}

/** What checkpoints and datasets share: shards with their size and sha256, and the root over them. */
export interface ShardedManifest {
  readonly shards: readonly Pick<CheckpointShard, "path" | "bytes" | "sha256">[];
  readonly root: Bytes32;
}

/** A checkpoint failed verification; `verification` holds the per-shard results. */
export class CheckpointVerificationError extends Error {
  override readonly name = "CheckpointVerificationError";
  readonly dir: string;
  readonly verification: CheckpointVerification;
  constructor(dir: string, verification: CheckpointVerification) {
    super(`checkpoint ${dir} failed verification: ${verification.problems.join("; ")}`);
    this.dir = dir;
    this.verification = verification;
  }
}

/**
 * Compares recomputed shard hashes with a manifest and an expected root. Pure, so that a reader
 * that already holds the bytes and a verifier that streamed them judge alike. Takes any manifest
 * of shards under a root by the checkpoint rule (a dataset's too).
 */
export function compareShards(
  manifest: ShardedManifest,
  computed: readonly Pick<FileHash, "bytes" | "sha256">[],
  expectedRoot?: Bytes32,
): CheckpointVerification {
  const problems: string[] = [];
  const shards = manifest.shards.map((entry, i): ShardCheck => {
    const got = computed[i]!;
    let problem: string | undefined;
    if (got.bytes !== entry.bytes)
      problem = `${entry.path}: ${got.bytes} bytes, the manifest says ${entry.bytes}`;
    else if (got.sha256 !== entry.sha256) {
      problem = `${entry.path}: sha256 ${got.sha256} does not match the manifest's ${entry.sha256}`;
    }
    if (problem) problems.push(problem);
    return {
      path: entry.path,
      bytes: got.bytes,
      sha256: got.sha256,
      ok: !problem,
      ...(problem ? { problem } : {}),
    };
  });
  const root = merkleRoot(computed.map((c) => c.sha256));
  if (problems.length === 0 && root !== manifest.root) {
    problems.push(`the shards' root ${root} does not match the manifest's root ${manifest.root}`);
  }
  if (expectedRoot !== undefined && root !== expectedRoot) {
    problems.push(`root ${root} does not match the expected root ${expectedRoot}`);
  }
  return { ok: problems.length === 0, root, shards, problems };
}

/** Recomputes each shard's sha256 (streamed, in parallel) and the root, trusting nothing but the shard list. */
export async function hashCheckpoint(
  dir: string,
  options: HashFilesOptions = {},
): Promise<{ root: Bytes32; shards: FileHash[]; manifest: CheckpointManifest }> {
  const manifest = await readCheckpointManifest(dir);
  const hashes = await hashShards(dir, manifest, options);
  return { root: merkleRoot(hashes.map((h) => h.sha256)), shards: hashes, manifest };
}

/**
 * Verifies every shard's size and sha256 against the manifest, the root against the shards and,
 * when given, against `expectedRoot` (the one committed on-chain or handed to a trainer). Never
 * throws for a bad checkpoint: the result says what is wrong, shard by shard.
 */
export async function verifyCheckpoint(
  dir: string,
  expectedRoot?: Bytes32,
  options: HashFilesOptions = {},
): Promise<CheckpointVerification> {
  let manifest: CheckpointManifest;
  let hashes: FileHash[];
  try {
    manifest = await readCheckpointManifest(dir);
    hashes = await hashShards(dir, manifest, options);
  } catch (error) {
    if (error instanceof CheckpointUnreadableError || error instanceof InvalidInputError) {
      return { ok: false, root: null, shards: [], problems: [error.message] };
    }
    throw error;
  }
  return compareShards(manifest, hashes, expectedRoot);
}

async function hashShards(
  dir: string,
  manifest: CheckpointManifest,
  options: HashFilesOptions,
): Promise<FileHash[]> {
  try {
    const hashes = await hashFiles(
      manifest.shards.map((s) => join(dir, s.path)),
      options,
    );
    return hashes.map((h, i) => ({ ...h, path: manifest.shards[i]!.path }));
  } catch (error) {
    throw new CheckpointUnreadableError(dir, (error as Error).message);
  }
}
