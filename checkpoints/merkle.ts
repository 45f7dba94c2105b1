import { createHash } from "node:crypto";
import type { Bytes32 } from "../spec/runSpec.ts";

/**
 * The Merkle root over shard hashes, in manifest order: RFC 6962 §2.1's Merkle Tree Hash with the
 * 32-byte shard sha256 digests as the leaf inputs (checkpoints/README.md states it with a worked
 * example):
 *   leaf(h)     = sha256(0x00 ‖ h)
 *   node(l, r)  = sha256(0x01 ‖ l ‖ r)
 *   MTH([h])    = leaf(h)                      — a lone shard's root is the hash of its hash
 *   MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two below n
 * The prefixes keep leaves and inner nodes apart, so no list of shards can pass for another.
 */
export function merkleRoot(shardHashes: readonly string[]): Bytes32 {
  if (shardHashes.length === 0)
    throw new RangeError("merkleRoot: a checkpoint or dataset has at least one shard");
  const leaves = shardHashes.map((h) => leafHash(digestBytes(h)));
  return `0x${treeHash(leaves).toString("hex")}`;
}

function treeHash(nodes: readonly Buffer[]): Buffer {
  if (nodes.length === 1) return nodes[0]!;
  let k = 1;
  while (k * 2 < nodes.length) k *= 2;
  return createHash("sha256")
    .update(NODE_PREFIX)
    .update(treeHash(nodes.slice(0, k)))
    .update(treeHash(nodes.slice(k)))
    .digest();
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

function leafHash(digest: Buffer): Buffer {
  return createHash("sha256").update(LEAF_PREFIX).update(digest).digest();
}

/** A sha256 digest given as 64 hex digits, with or without 0x. */
function digestBytes(hex: string): Buffer {
  const bare = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (!/^[0-9a-f]{64}$/.test(bare))
    throw new RangeError(`merkleRoot: ${hex} is not a lowercase hex sha256 digest`);
  return Buffer.from(bare, "hex");
}
