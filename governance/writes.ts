import type { Hex, TransactionReceipt } from "viem";
import { checkpointRegistryAbi, clusterRegistryAbi, runRegistryAbi } from "../contracts/abi/index.ts";
import { type Governance, send } from "./chain.ts";
import { ContractRevertError } from "./errors.ts";
import { type CheckpointMetrics, encodeMetrics } from "./metrics.ts";
import { getCheckpoint } from "./reads.ts";

// Direct calls to daotrain's registries by the non-DAO actors: the orchestrator (holder of
// OPERATOR_PERMISSION), verifiers (VERIFIER_PERMISSION) and cluster owners / contributors.

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

export interface ComputeRecord {
  clusterId: Hex;
  gpuSeconds: bigint;
}

export interface RoundCommit {
  runId: Hex;
  round: bigint;
  root: Hex;
  manifestUri: string;
  /** sha256 of the round record's canonical JSON. */
  recordHash: Hex;
  metrics: CheckpointMetrics;
  /** Each accepted cluster's GPU-seconds, any order (sent in ascending cluster id order). */
  records: readonly ComputeRecord[];
}

export type CommitOutcome = ({ outcome: "committed" } & Sent) | { outcome: "already-committed" };

/**
 * Commits a round (operator): its root, its round record's hash and its compute credits in one
 * transaction. Idempotent for retries: if the same root and record hash are already committed
 * for (run, round), the earlier call landed, credits included, and it reports
 * "already-committed"; anything else there is a real conflict and stays a
 * ContractRevertError(AlreadyCommitted).
 */
export async function commitRound(governance: Governance, commit: RoundCommit): Promise<CommitOutcome> {
  const records = [...commit.records].sort((a, b) => compareHex(a.clusterId, b.clusterId));
  try {
    const receipt = await send(governance, {
      address: governance.deployment.contracts.checkpointRegistry,
      abi: checkpointRegistryAbi,
      functionName: "commitRound",
      args: [
        commit.runId,
        commit.round,
        commit.root,
        commit.manifestUri,
        commit.recordHash,
        encodeMetrics(commit.metrics),
        records,
      ],
    });
    return { outcome: "committed", ...sent(receipt) };
  } catch (error) {
    if (error instanceof ContractRevertError && error.errorName === "AlreadyCommitted") {
      const existing = await getCheckpoint(governance, commit.runId, commit.round);
      if (existing.committed && existing.root === commit.root && existing.recordHash === commit.recordHash)
        return { outcome: "already-committed" };
    }
    throw error;
  }
}

/** The contract takes a round's records in strictly ascending cluster id order. */
function compareHex(a: Hex, b: Hex): number {
  const [x, y] = [BigInt(a), BigInt(b)];
  return x < y ? -1 : x > y ? 1 : 0;
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

/**
 * Stops a run the operator was asked to stop (not by the DAO): it ends Cancelled, with the reason
 * in its RunCancelledByOperator event; the unspent escrow returns to the DAO.
 */
export async function cancelRunAsOperator(governance: Governance, runId: Hex, reason: string): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "cancelRunAsOperator",
    args: [runId, reason],
  });
  return sent(receipt);
}

/** A verifier attests that it redid the round and got `root`, the committed one. */
export async function attestRound(
  governance: Governance,
  attestation: { runId: Hex; round: bigint; root: Hex },
): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    functionName: "attestRound",
    args: [attestation.runId, attestation.round, attestation.root],
  });
  return sent(receipt);
}

/** A verifier disputes the committed `root`, pointing at its evidence; the round is frozen until the DAO resolves it. */
export async function disputeRound(
  governance: Governance,
  dispute: { runId: Hex; round: bigint; root: Hex; evidenceUri: string },
): Promise<Sent> {
  const receipt = await send(governance, {
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    functionName: "disputeRound",
    args: [dispute.runId, dispute.round, dispute.root, dispute.evidenceUri],
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
