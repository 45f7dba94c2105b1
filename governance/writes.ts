import type { Hex, TransactionReceipt } from "viem";
import { checkpointRegistryAbi, clusterRegistryAbi, runRegistryAbi } from "../contracts/abi/index.ts";
import { type Governance, send } from "./chain.ts";
import { ContractRevertError } from "./errors.ts";
import { type CheckpointMetrics, encodeMetrics } from "./metrics.ts";
import { getCheckpoint } from "./reads.ts";

// Direct calls to daotrain's registries by the two non-DAO actors: the orchestrator (holder of
// OPERATOR_PERMISSION) and cluster owners / contributors.

export interface Sent {
  txHash: Hex;
  gasUsed: bigint;
  blockNumber: bigint;
}

const sent = (receipt: TransactionReceipt): Sent => ({
  txHash: receipt.transactionHash,
  gasUsed: receipt.gasUsed,
  blockNumber: receipt.blockNumber,
});

export interface CheckpointCommit {
  runId: Hex;
  round: bigint;
  root: Hex;
  manifestUri: string;
  metrics: CheckpointMetrics;
}

export type CommitOutcome = ({ outcome: "committed" } & Sent) | { outcome: "already-committed" };

/**
 * Commits a round's checkpoint root (operator). Idempotent for retries: if the same root is
 * already committed for (run, round) it reports "already-committed"; a different root there
 * is a real conflict and stays a ContractRevertError(AlreadyCommitted).
 */
export async function commitCheckpoint(
  governance: Governance,
  commit: CheckpointCommit,
): Promise<CommitOutcome> {
  try {
    const receipt = await send(governance, {
      address: governance.deployment.contracts.checkpointRegistry,
      abi: checkpointRegistryAbi,
      functionName: "commitCheckpoint",
      args: [commit.runId, commit.round, commit.root, commit.manifestUri, encodeMetrics(commit.metrics)],
    });
    return { outcome: "committed", ...sent(receipt) };
  } catch (error) {
    if (error instanceof ContractRevertError && error.errorName === "AlreadyCommitted") {
      const existing = await getCheckpoint(governance, commit.runId, commit.round);
      if (existing.committed && existing.root === commit.root) return { outcome: "already-committed" };
    }
    throw error;
  }
}

/** Records where the public store serves a released checkpoint (operator). */
export async function recordPublication(
  governance: Governance,
  publication: { runId: Hex; round: bigint; publishedManifestUri: string },
): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    functionName: "recordPublication",
    args: [publication.runId, publication.round, publication.publishedManifestUri],
  });
  return sent(receipt);
}

export interface ComputeRecord {
  clusterId: Hex;
  gpuSeconds: bigint;
}

/** Credits each cluster's owner for a round's verified GPU-seconds (operator); all or nothing. */
export async function recordCompute(
  governance: Governance,
  runId: Hex,
  round: bigint,
  records: readonly ComputeRecord[],
): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "recordCompute",
    args: [runId, round, records],
  });
  return sent(receipt);
}

/** Closes a run after its last round (operator); the unspent escrow returns to the DAO. */
export async function completeRun(governance: Governance, runId: Hex): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "completeRun",
    args: [runId],
  });
  return sent(receipt);
}

/**
 * Closes a run that cannot go on (operator), with the reason its RunFailed event records; the
 * unspent escrow returns to the DAO and credited rewards stay claimable, as with completeRun.
 */
export async function failRun(governance: Governance, runId: Hex, reason: string): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "failRun",
    args: [runId, reason],
  });
  return sent(receipt);
}

export interface ClusterRegistration {
  clusterId: Hex;
  gpuCapacity: number;
  gpuProduct: string;
  metadata: string;
}

/** A cluster owner registers its cluster; the DAO then admits it by proposal. */
export async function registerCluster(governance: Governance, cluster: ClusterRegistration): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.clusterRegistry,
    abi: clusterRegistryAbi,
    functionName: "registerCluster",
    args: [cluster.clusterId, cluster.gpuCapacity, cluster.gpuProduct, cluster.metadata],
  });
  return sent(receipt);
}

/** Pays the caller everything the ledger owes it in the run. */
export async function claimRewards(governance: Governance, runId: Hex): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "claim",
    args: [runId],
  });
  return sent(receipt);
}
