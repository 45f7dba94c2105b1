import { join } from "node:path";
import { heartbeat } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import {
  MANIFEST_FILE,
  readCheckpointManifest,
  verifyCheckpoint,
  writeCheckpoint,
} from "../../checkpoints/index.ts";
import type { Governance } from "../../governance/chain.ts";
import { getCheckpoint } from "../../governance/reads.ts";
import { initialCheckpoint } from "../../model/index.ts";
import { runIdOf } from "../../spec/runSpec.ts";
import type { CheckpointStore } from "../../storage/index.ts";
import type { StorageActivities } from "../../workflows/activities.ts";
import type { Metrics } from "../metrics.ts";
import type { RunStore } from "../runStore.ts";

export interface StorageContext {
  chain: Governance;
  runStore: RunStore;
  publicStore: CheckpointStore;
  metrics: Metrics;
}

export function storageActivities(ctx: StorageContext): StorageActivities {
  return {
    async prepareRun({ runId, spec }) {
      if (runIdOf(spec) !== runId) {
        throw ApplicationFailure.nonRetryable(
          `the spec hashes to ${runIdOf(spec)}, not ${runId}`,
          "RunSpecMismatchError",
        );
      }
      const key = ctx.runStore.initKey(runId);
      const { tensors, fields } = initialCheckpoint(spec);
      // Deterministic from the spec's seed: a retry writes the same root, which publishDirectory accepts.
      const manifest = await ctx.runStore.writeCheckpoint(key, (dir) =>
        writeCheckpoint(dir, tensors, fields),
      );
      return { uri: ctx.runStore.manifestUri(key), root: manifest.root };
    },

    async publishCheckpoint({ runId, round }) {
      const committed = await getCheckpoint(ctx.chain, runId, BigInt(round));
      if (!committed.committed) {
        throw ApplicationFailure.nonRetryable(
          `round ${round} of run ${runId} is not committed; nothing to publish`,
          "NotCommitted",
        );
      }
      const dir = await ctx.runStore.localDir(committed.manifestUri, committed.root);
      const started = performance.now();
      const verification = await verifyCheckpoint(dir, committed.root);
      const hashedBytes = verification.shards.reduce((sum, s) => sum + s.bytes, 0);
      ctx.metrics.hashBytes.inc(hashedBytes);
      ctx.metrics.hashDuration.inc((performance.now() - started) / 1000);
      if (!verification.ok) {
        throw ApplicationFailure.nonRetryable(
          `checkpoint ${committed.manifestUri} does not match the committed root ${committed.root}: ${verification.problems.join("; ")}`,
          "CommitConflictError",
        );
      }
      const manifest = await readCheckpointManifest(dir);
      const prefix = `${runId}/${round}`;
      for (const shard of manifest.shards) {
        await ctx.publicStore.putFile(`${prefix}/${shard.path}`, join(dir, shard.path));
        heartbeat(shard.path);
      }
      // The manifest goes last: its presence says every shard it lists is there.
      await ctx.publicStore.putFile(`${prefix}/${MANIFEST_FILE}`, join(dir, MANIFEST_FILE));
      ctx.metrics.checkpointsReleased.inc();
      return { uri: ctx.publicStore.uriOf(`${prefix}/${MANIFEST_FILE}`), root: committed.root };
    },
  };
}
