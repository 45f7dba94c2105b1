import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type CheckpointManifest, floatTensor, NO_PARENT, writeCheckpoint } from "../../checkpoints/index.ts";
import type { Bytes32 } from "../../spec/runSpec.ts";

export const MiB = 1024 * 1024;

export function randomRoot(): Bytes32 {
  return `0x${randomBytes(32).toString("hex")}`;
}

/**
 * A real checkpoint written by checkpoints/: three tensors of `tensorMiB` each, one per shard,
 * so a download has several shards to fetch in parallel and several parts per shard.
 */
export async function writeTestCheckpoint(
  parent: string,
  runId: Bytes32,
  round: number,
  tensorMiB = 6,
): Promise<{ dir: string; manifest: CheckpointManifest }> {
  const dir = join(parent, `checkpoint-${round}`);
  const values = (seed: number) => {
    const array = new Float32Array((tensorMiB * MiB) / 4);
    for (let i = 0; i < array.length; i++) array[i] = Math.sin(i * 0.001 + seed);
    return array;
  };
  const tensors = {
    "layer0.weight": floatTensor([tensorMiB * 256, 1024], values(1)),
    "layer1.weight": floatTensor([tensorMiB * 256, 1024], values(2)),
    "lm_head.weight": floatTensor([tensorMiB * 256, 1024], values(3)),
  };
  const manifest = await writeCheckpoint(
    dir,
    tensors,
    { runId, round, parentRoot: NO_PARENT, metrics: { loss: 2.5, valLoss: 2.7, tokens: 1000, steps: 10 } },
    { maxShardBytes: tensorMiB * MiB + MiB },
  );
  return { dir, manifest };
}
