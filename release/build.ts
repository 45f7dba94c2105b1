import { open } from "node:fs/promises";
import { join } from "node:path";
import { hashFiles } from "../checkpoints/hashFiles.ts";
import { merkleRoot } from "../checkpoints/merkle.ts";
import { publishDirectory, writeFileSynced } from "../checkpoints/publish.ts";
import { readCheckpoint } from "../checkpoints/read.ts";
import { writeSafetensorsFile } from "../checkpoints/write.ts";
import { HF_METADATA, huggingFaceConfigFiles, splitForRelease } from "../model/huggingface.ts";
import { runSpecFromMetadata } from "../model/parameters.ts";
import { runIdOf } from "../spec/runSpec.ts";
import { type ReleaseFacts, renderCard } from "./card.ts";
import {
  type CheckpointShardHeader,
  RELEASE_FILES,
  RELEASE_FORMAT,
  RELEASE_MANIFEST_FILE,
  type ReleaseManifest,
  readReleaseManifest,
  releaseFileOrder,
} from "./manifest.ts";

/** The first 8 + N bytes of a safetensors file: its length prefix and JSON header. */
export async function safetensorsHeaderBytes(file: string): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const header = Buffer.alloc(8 + Number(prefix.readBigUInt64LE(0)));
    await handle.read(header, 0, header.length, 0);
    return header;
  } finally {
    await handle.close();
  }
}

/**
 * Writes the release of a committed checkpoint into `out` (atomically, like a checkpoint): the
 * Hugging Face layout (`model.safetensors` under GPT2LMHeadModel's names, the configs, a byte-level
 * tokenizer, the model card), the outer optimizer's momentum in a file of its own, and
 * `release.json`. The checkpoint is read verified against the chain's root; the facts must be
 * about the run its spec hashes to.
 */
export async function buildRelease(
  checkpointDir: string,
  facts: ReleaseFacts,
  out: string,
): Promise<ReleaseManifest> {
  const committed = facts.rounds.find((r) => r.round === facts.round);
  if (!committed) throw new Error(`the facts hold no commit of round ${facts.round}`);
  const checkpoint = await readCheckpoint(checkpointDir, { expectedRoot: committed.root });
  const spec = runSpecFromMetadata(checkpoint.metadata, checkpointDir);
  if (runIdOf(spec) !== facts.runId)
    throw new Error(
      `checkpoint ${checkpointDir} carries the spec of run ${runIdOf(spec)}, not ${facts.runId}`,
    );
  const split = splitForRelease(checkpoint.tensors, spec.model);
  const checkpointShards: CheckpointShardHeader[] = await Promise.all(
    checkpoint.manifest.shards.map(async (shard) => ({
      ...shard,
      header: (await safetensorsHeaderBytes(join(checkpointDir, shard.path))).toString("base64"),
    })),
  );
  return publishDirectory(
    out,
    async (temp) => {
      await writeSafetensorsFile(join(temp, RELEASE_FILES.weights), split.model, HF_METADATA);
      await writeSafetensorsFile(join(temp, RELEASE_FILES.momentum), split.momentum, HF_METADATA);
      const texts = { ...huggingFaceConfigFiles(spec), [RELEASE_FILES.card]: renderCard(spec, facts) };
      for (const [name, text] of Object.entries(texts)) await writeFileSynced(join(temp, name), text);
      const names = releaseFileOrder();
      const hashes = await hashFiles(names.map((name) => join(temp, name)));
      const manifest: ReleaseManifest = {
        format: RELEASE_FORMAT,
        runId: facts.runId,
        round: facts.round,
        checkpointRoot: checkpoint.manifest.root,
        checkpointShards,
        files: hashes.map((h, i) => ({ path: names[i]!, bytes: h.bytes, sha256: h.sha256 })),
        root: merkleRoot(hashes.map((h) => h.sha256)),
      };
      await writeFileSynced(join(temp, RELEASE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    },
    async (existing) => (await readReleaseManifest(existing)).root,
  );
}
