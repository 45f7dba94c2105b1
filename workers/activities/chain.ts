import { ApplicationFailure } from "@temporalio/common";
import type { Abi, ContractFunctionArgs, ContractFunctionName } from "viem";
import { checkpointRegistryAbi, clusterRegistryAbi, runRegistryAbi } from "../../contracts/abi/index.ts";
import { type Governance, send } from "../../governance/chain.ts";
import { ContractRevertError } from "../../governance/errors.ts";
import type { ChainActivities } from "../../workflows/activities.ts";
import type { CheckpointMetrics, ComputeRecord, Hex } from "../../workflows/types.ts";
import type { Metrics } from "../metrics.ts";

/** CheckpointRegistry stores loss as fixed point with this many units per 1.0. */
const METRICS_SCALE = 1_000_000_000;

export interface ChainContext {
  chain: Governance;
  metrics: Metrics;
}

/** The chain already holds a different fact for this key: retrying cannot fix it. */
export function commitConflict(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, "CommitConflictError");
}

export function chainActivities(ctx: ChainContext): ChainActivities {
  const { chain } = ctx;
  const { checkpointRegistry, runRegistry } = chain.deployment.contracts;

  /** Sends one operator transaction, counting it (and its gas) by method and outcome. */
  async function operatorSend<
    abi extends Abi,
    name extends ContractFunctionName<abi, "nonpayable">,
  >(request: {
    address: Hex;
    abi: abi;
    functionName: name;
    args: ContractFunctionArgs<abi, "nonpayable", name>;
  }): Promise<void> {
    const method = request.functionName;
    try {
      const receipt = await send(chain, request as never);
      ctx.metrics.chainTransactions.inc({ method, status: "success" });
      ctx.metrics.chainGasUsed.inc({ method }, Number(receipt.gasUsed));
    } catch (error) {
      const status = error instanceof ContractRevertError ? "reverted" : "error";
      ctx.metrics.chainTransactions.inc({ method, status });
      throw error;
    }
  }

  /** Adds a round's credits to the per-contributor GPU-seconds and reward counters. */
  async function countCredits(runId: Hex, records: readonly ComputeRecord[]): Promise<void> {
    const run = await chain.publicClient.readContract({
      address: runRegistry,
      abi: runRegistryAbi,
      functionName: "getRun",
      args: [runId],
    });
    for (const record of records) {
      const owner = await chain.publicClient.readContract({
        address: chain.deployment.contracts.clusterRegistry,
        abi: clusterRegistryAbi,
        functionName: "ownerOf",
        args: [record.clusterId],
      });
      const reward = (BigInt(record.gpuSeconds) * run.rewardPerGpuHour) / 3600n;
      ctx.metrics.gpuSeconds.inc({ contributor: owner }, record.gpuSeconds);
      ctx.metrics.rewardsTokens.inc({ contributor: owner }, Number(reward) / 1e18);
    }
  }

  return {
    async commitRound({ runId, round, checkpoint, metrics }) {
      try {
        await operatorSend({
          address: checkpointRegistry,
          abi: checkpointRegistryAbi,
          functionName: "commitCheckpoint",
          args: [runId, BigInt(round), checkpoint.root, checkpoint.uri, onChainMetrics(metrics)],
        });
        ctx.metrics.roundsCommitted.inc();
        return { alreadyCommitted: false };
      } catch (error) {
        if (!(error instanceof ContractRevertError && error.errorName === "AlreadyCommitted")) throw error;
      }
      // A retry after a commit that landed (a worker killed after sending): same root is success.
      const committed = await chain.publicClient.readContract({
        address: checkpointRegistry,
        abi: checkpointRegistryAbi,
        functionName: "getCheckpoint",
        args: [runId, BigInt(round)],
      });
      if (committed.root !== checkpoint.root) {
        throw commitConflict(
          `round ${round} of run ${runId} is already committed with root ${committed.root}, not ${checkpoint.root}; ` +
            "two different global checkpoints were produced for one round — inspect the run store before resuming",
        );
      }
      return { alreadyCommitted: true };
    },

    async recordCompute({ runId, round, records }) {
      const args = records.map((r) => ({ clusterId: r.clusterId, gpuSeconds: BigInt(r.gpuSeconds) }));
      try {
        await operatorSend({
          address: runRegistry,
          abi: runRegistryAbi,
          functionName: "recordCompute",
          args: [runId, BigInt(round), args],
        });
        await countCredits(runId, records);
        return { alreadyRecorded: false };
      } catch (error) {
        if (!(error instanceof ContractRevertError && error.errorName === "ComputeAlreadyRecorded"))
          throw error;
      }
      // recordCompute is all-or-nothing: if one record of this round exists, the whole call landed.
      const recorded = await Promise.all(
        records.map((r) =>
          chain.publicClient.readContract({
            address: runRegistry,
            abi: runRegistryAbi,
            functionName: "computeRecorded",
            args: [runId, BigInt(round), r.clusterId],
          }),
        ),
      );
      if (!recorded.every(Boolean)) {
        throw commitConflict(
          `compute for round ${round} of run ${runId} is recorded for some clusters but not others; ` +
            "the ledger was written outside this workflow — reconcile it by hand",
        );
      }
      return { alreadyRecorded: true };
    },

    async closeRun({ runId }) {
      const status = await chain.publicClient.readContract({
        address: runRegistry,
        abi: runRegistryAbi,
        functionName: "runStatus",
        args: [runId],
      });
      if (status !== 1) return { closedNow: false };
      try {
        await operatorSend({
          address: runRegistry,
          abi: runRegistryAbi,
          functionName: "completeRun",
          args: [runId],
        });
        return { closedNow: true };
      } catch (error) {
        // Closed meanwhile (by the DAO, or by an earlier attempt whose receipt was lost).
        if (error instanceof ContractRevertError && error.errorName === "RunNotApproved")
          return { closedNow: false };
        throw error;
      }
    },
  };
}

function onChainMetrics(metrics: CheckpointMetrics) {
  // A loss that could not be measured (NaN) is recorded as 0, which no real loss is.
  const fixed = (value: number) =>
    Number.isFinite(value) ? BigInt(Math.max(0, Math.round(value * METRICS_SCALE))) : 0n;
  return {
    loss: fixed(metrics.loss),
    valLoss: fixed(metrics.valLoss),
    tokens: BigInt(metrics.tokens),
    steps: BigInt(metrics.steps),
  };
}
