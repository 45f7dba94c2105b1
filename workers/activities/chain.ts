import { createHash } from "node:crypto";
import { ApplicationFailure } from "@temporalio/common";
import { type Address, zeroAddress } from "viem";
import type { Governance } from "../../governance/chain.ts";
import { ContractRevertError } from "../../governance/errors.ts";
import { getCheckpoint, getCluster, getRun } from "../../governance/reads.ts";
import {
  type CommitOutcome,
  cancelRunAsOperator,
  commitRound,
  completeRun,
  failRun,
  recordPublication,
  type Sent,
} from "../../governance/writes.ts";
import { canonicalJson } from "../../spec/canonicalJson.ts";
import type { ChainActivities } from "../../workflows/activities.ts";
import type {
  CheckpointMetrics,
  ComputeRecord,
  Hex,
  RoundRecordDraft,
  RunClosing,
} from "../../workflows/types.ts";
import type { Metrics } from "../metrics.ts";

export interface ChainContext {
  chain: Governance;
  metrics: Metrics;
}

/** The chain already holds a different fact for this key: retrying cannot fix it. */
function conflict(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, "CommitConflictError");
}

export function chainActivities(ctx: ChainContext): ChainActivities {
  const { chain } = ctx;

  /** Runs one operator transaction, counting it (and its gas) by method and outcome. */
  async function counted<T extends Sent | CommitOutcome>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      ctx.metrics.chainTransactions.inc({ method, status: "success" });
      if ("gasUsed" in result) ctx.metrics.chainGasUsed.inc({ method }, Number(result.gasUsed));
      return result;
    } catch (error) {
      ctx.metrics.chainTransactions.inc({
        method,
        status: error instanceof ContractRevertError ? "reverted" : "error",
      });
      throw error;
    }
  }

  function close(runId: Hex, closing: RunClosing): Promise<Sent> {
    switch (closing.as) {
      case "completed":
        return counted("completeRun", () => completeRun(chain, runId));
      case "failed":
        return counted("failRun", () => failRun(chain, runId, closing.reason));
      case "cancelled":
        return counted("cancelRunAsOperator", () => cancelRunAsOperator(chain, runId, closing.reason));
    }
  }

  return {
    async commitRound({ runId, round, checkpoint, metrics, credits, record }) {
      const recordHash = roundRecordHash(record);
      try {
        const outcome = await counted("commitRound", () =>
          commitRound(chain, {
            runId,
            round: BigInt(round),
            root: checkpoint.root,
            manifestUri: checkpoint.uri,
            recordHash,
            metrics: onChainMetrics(metrics),
            records: credits.map((r) => ({ clusterId: r.clusterId, gpuSeconds: BigInt(r.gpuSeconds) })),
          }),
        );
        // "already-committed" (same root and record) is a retry after a commit that landed, with
        // its credits: success, and nothing more to count.
        if (outcome.outcome === "committed") {
          ctx.metrics.roundsCommitted.inc();
          await countCredits(ctx, runId, credits);
        }
        return { alreadyCommitted: outcome.outcome === "already-committed" };
      } catch (error) {
        if (error instanceof ContractRevertError && error.errorName === "AlreadyCommitted") {
          const existing = await getCheckpoint(chain, runId, BigInt(round));
          const found = existing.committed ? `root ${existing.root}, record ${existing.recordHash}` : "?";
          throw conflict(
            `round ${round} of run ${runId} is committed with ${found}, not root ${checkpoint.root}, record ${recordHash}: ` +
              "two different global checkpoints were produced for one round; inspect the run store before resuming",
          );
        }
        throw error;
      }
    },

    async closeRun({ runId, closing }) {
      // failRun and cancelRunAsOperator revert on an empty reason; refuse it before sending.
      if (closing.as !== "completed" && closing.reason === "")
        throw ApplicationFailure.nonRetryable(
          `closeRun: run ${runId} cannot be ${closing.as} without a reason; pass the reason the workflow has`,
          "InvalidInputError",
        );
      if ((await getRun(chain, runId)).status !== "approved") return { closedNow: false };
      try {
        await close(runId, closing);
        return { closedNow: true };
      } catch (error) {
        // Closed meanwhile (by the DAO, or by an earlier attempt whose receipt was lost).
        if (error instanceof ContractRevertError && error.errorName === "RunNotApproved")
          return { closedNow: false };
        throw error;
      }
    },
    async recordPublication({ runId, round, manifestUri }) {
      // A retry after a publication that landed finds it recorded: nothing to send again.
      const recorded = await getCheckpoint(chain, runId, BigInt(round));
      if (recorded.committed && recorded.publishedManifestUri === manifestUri) return { recordedNow: false };
      await counted("recordPublication", () =>
        recordPublication(chain, { runId, round: BigInt(round), publishedManifestUri: manifestUri }),
      );
      return { recordedNow: true };
    },
  };
}

/** Adds a round's credits to the per-contributor GPU-seconds and reward counters. */
async function countCredits(ctx: ChainContext, runId: Hex, records: readonly ComputeRecord[]): Promise<void> {
  const run = await getRun(ctx.chain, runId);
  for (const record of records) {
    const owner: Address = (await getCluster(ctx.chain, record.clusterId)).owner ?? zeroAddress;
    const reward = (BigInt(record.gpuSeconds) * run.rewardPerGpuHour) / 3600n;
    ctx.metrics.gpuSeconds.inc({ contributor: owner }, record.gpuSeconds);
    ctx.metrics.rewardsTokens.inc({ contributor: owner }, Number(reward) / 1e18);
  }
}

/**
 * The record hash committed with a round: sha256 of the draft's canonical JSON. The seam the full
 * round record replaces; until then it pins what the worker knew when it committed.
 */
function roundRecordHash(record: RoundRecordDraft): Hex {
  return `0x${createHash("sha256").update(canonicalJson(record)).digest("hex")}`;
}

/** A loss that could not be measured (NaN) is recorded as 0, which no real loss is. */
function onChainMetrics(metrics: CheckpointMetrics) {
  const finite = (value: number) => (Number.isFinite(value) && value >= 0 ? value : 0);
  return {
    loss: finite(metrics.loss),
    valLoss: finite(metrics.valLoss),
    tokens: BigInt(metrics.tokens),
    steps: BigInt(metrics.steps),
  };
}
