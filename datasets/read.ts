import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { merkleRoot } from "../checkpoints/merkle.ts";
import type { Bytes32 } from "../spec/runSpec.ts";
import { DatasetError, type DatasetManifest, readDatasetManifest } from "./manifest.ts";

/** A dataset whose manifest matches its expected root; shards are verified as they are read. */
export interface Dataset {
  readonly dir: string;
  readonly manifest: DatasetManifest;
  /** Reads shard `index`, checks its sha256 against the manifest, and returns its tokens. */
  readShard(index: number): Promise<Uint16Array>;
  /** Every validation shard's tokens, concatenated in manifest order. */
  readValidation(): Promise<Uint16Array>;
}

/**
 * Opens a dataset and refuses it unless the Merkle root of its manifest's shard hashes is
 * `expectedRoot` (the DAO-approved one). Each shard's bytes are then hashed when read, so every
 * token a trainer uses is covered by the root without hashing shards it does not use.
 */
export async function openDataset(dir: string, expectedRoot?: Bytes32): Promise<Dataset> {
  const manifest = await readDatasetManifest(dir);
  const root = merkleRoot(manifest.shards.map((s) => s.sha256));
  if (root !== manifest.root)
    throw new DatasetError(`dataset ${dir}: its shards' root ${root} is not the manifest's ${manifest.root}`);
  if (expectedRoot !== undefined && root !== expectedRoot) {
    throw new DatasetError(`dataset ${dir} has root ${root}, expected ${expectedRoot}`);
  }
  const readShard = async (index: number): Promise<Uint16Array> => {
    const shard = manifest.shards[index];
    if (!shard)
      throw new DatasetError(`dataset ${dir} has no shard ${index} (it has ${manifest.shards.length})`);
    const bytes = await readFile(join(dir, shard.path));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (bytes.byteLength !== shard.bytes || sha256 !== shard.sha256) {
      throw new DatasetError(
        `dataset ${dir}: ${shard.path} has sha256 ${sha256}, the manifest says ${shard.sha256}`,
      );
    }
    return new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  const readValidation = async (): Promise<Uint16Array> => {
    const parts = await Promise.all(
      manifest.shards.flatMap((s, i) => (s.split === "validation" ? [readShard(i)] : [])),
    );
    const out = new Uint16Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  };
  return { dir, manifest, readShard, readValidation };
}
