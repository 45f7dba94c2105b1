import { heartbeat } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { verifyCheckpoint, writeCheckpoint } from "../../checkpoints/index.ts";
import { releaseFacts } from "../../download/chain.ts";
import type { Governance } from "../../governance/chain.ts";
import { getCheckpoint } from "../../governance/reads.ts";
import { initialCheckpoint } from "../../model/index.ts";
import { publishRelease } from "../../release/publish.ts";
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
      // What downloaders get: the Hugging Face layout, built from the verified checkpoint and the
      // chain's facts.
      const facts = await releaseFacts(ctx.chain, runId, round);
      const published = await publishRelease(dir, facts, ctx.publicStore, `${runId}/${round}`, heartbeat);
      ctx.metrics.checkpointsReleased.inc();
      return { uri: published.uri, root: committed.root };
    },
  };
}
