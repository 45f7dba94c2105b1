import type { Address, Hex } from "viem";
import {
  checkpointRegistryAbi,
  clusterRegistryAbi,
  daoTrainTokenAbi,
  datasetRegistryAbi,
  runRegistryAbi,
} from "../contracts/abi/index.ts";
import type { Governance } from "./chain.ts";
import { type CheckpointMetrics, decodeMetrics } from "./metrics.ts";
import type { RunLimits } from "./proposals.ts";

// Typed reads of daotrain's registries, straight from the contracts (no indexer needed).

export const CLUSTER_STATUSES = ["none", "registered", "admitted", "suspended", "removed"] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];
export const RUN_STATUSES = ["none", "approved", "completed", "cancelled", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const DISPUTE_STATES = ["none", "open", "upheld", "dismissed"] as const;
export type DisputeState = (typeof DISPUTE_STATES)[number];
export const VERDICTS = ["none", "attested", "disputed"] as const;
export type Verdict = (typeof VERDICTS)[number];

const statusName = <T extends readonly string[]>(names: T, value: number): T[number] => {
  const name = names[value];
  if (name === undefined)
    throw new RangeError(`unknown status ${value}; expected one of ${names.join(", ")}`);
  return name;
};

export interface DatasetView {
  root: Hex;
  uri: string;
  license: string;
  approved: boolean;
  /** Unix seconds; 0 if never approved. */
  approvedAt: bigint;
}

export async function getDataset(governance: Governance, root: Hex): Promise<DatasetView> {
  const dataset = await governance.publicClient.readContract({
    address: governance.deployment.contracts.datasetRegistry,
    abi: datasetRegistryAbi,
    functionName: "getDataset",
    args: [root],
  });
  return {
    root,
    uri: dataset.uri,
    license: dataset.license,
    approved: dataset.approved,
    approvedAt: dataset.approvedAt,
  };
}

export interface ClusterView {
  clusterId: Hex;
  owner: Address;
  status: ClusterStatus;
  /** What the owner reports now. */
  gpuCapacity: number;
  /** What the DAO approved at the last admission (lowered by any lower report since): the most the orchestrator schedules. */
  admittedGpuCapacity: number;
  gpuProduct: string;
  metadata: string;
  registeredAt: bigint;
}

export async function getCluster(governance: Governance, clusterId: Hex): Promise<ClusterView> {
  const cluster = await governance.publicClient.readContract({
    address: governance.deployment.contracts.clusterRegistry,
    abi: clusterRegistryAbi,
    functionName: "getCluster",
    args: [clusterId],
  });
  return {
    clusterId,
    owner: cluster.owner,
    status: statusName(CLUSTER_STATUSES, cluster.status),
    gpuCapacity: cluster.gpuCapacity,
    admittedGpuCapacity: cluster.admittedGpuCapacity,
    gpuProduct: cluster.gpuProduct,
    metadata: cluster.metadata,
    registeredAt: cluster.registeredAt,
  };
}

export async function listClusters(governance: Governance): Promise<ClusterView[]> {
  const ids = await governance.publicClient.readContract({
    address: governance.deployment.contracts.clusterRegistry,
    abi: clusterRegistryAbi,
    functionName: "clusterIds",
  });
  return Promise.all(ids.map((id) => getCluster(governance, id)));
}

export interface RunView {
  runId: Hex;
  status: RunStatus;
  datasetRoot: Hex;
  gpuSecondsBudget: bigint;
  gpuSecondsRecorded: bigint;
  rewardPerGpuHour: bigint;
  /** What the DAO lets the operator do: rounds 1..rounds, each crediting at most replicasPerRound × gpusPerReplica × roundDeadlineSeconds. */
  limits: RunLimits;
  specUri: string;
  approvedAt: bigint;
  /** Escrow accounting: paid + refunded + escrowBalance = funded; paid ≤ credited ≤ funded. */
  escrow: { funded: bigint; credited: bigint; paid: bigint; refunded: bigint; balance: bigint };
}

export async function getRun(governance: Governance, runId: Hex): Promise<RunView> {
  const registry = { address: governance.deployment.contracts.runRegistry, abi: runRegistryAbi } as const;
  const [run, balance] = await Promise.all([
    governance.publicClient.readContract({ ...registry, functionName: "getRun", args: [runId] }),
    governance.publicClient.readContract({ ...registry, functionName: "escrowBalance", args: [runId] }),
  ]);
  return {
    runId,
    status: statusName(RUN_STATUSES, run.status),
    datasetRoot: run.datasetRoot,
    gpuSecondsBudget: run.gpuSecondsBudget,
    gpuSecondsRecorded: run.gpuSecondsRecorded,
    rewardPerGpuHour: run.rewardPerGpuHour,
    limits: run.limits,
    specUri: run.specUri,
    approvedAt: run.approvedAt,
    escrow: { funded: run.funded, credited: run.credited, paid: run.paid, refunded: run.refunded, balance },
  };
}

/**
 * Why the operator failed a run (the reason in its RunFailed event), or undefined when the run
 * did not fail. The reason lives only in the event, so this reads logs from the deployment's
 * first block.
 */
export async function runFailureReason(governance: Governance, runId: Hex): Promise<string | undefined> {
  const [failed] = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    eventName: "RunFailed",
    args: { runId },
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return failed?.args.reason;
}

/** RunRegistry.escrowFor: what approving a run with this budget and rate moves into escrow. */
export async function escrowFor(
  governance: Governance,
  gpuSecondsBudget: bigint,
  rewardPerGpuHour: bigint,
): Promise<bigint> {
  return governance.publicClient.readContract({
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "escrowFor",
    args: [gpuSecondsBudget, rewardPerGpuHour],
  });
}

export interface LedgerView {
  /** Everything the ledger credited the account in this run. */
  earned: bigint;
  claimed: bigint;
  /** Owed and not yet claimed: earned − claimed. */
  claimable: bigint;
}

export async function getLedger(governance: Governance, runId: Hex, account: Address): Promise<LedgerView> {
  const registry = { address: governance.deployment.contracts.runRegistry, abi: runRegistryAbi } as const;
  const [earned, claimed] = await Promise.all([
    governance.publicClient.readContract({ ...registry, functionName: "earned", args: [runId, account] }),
    governance.publicClient.readContract({ ...registry, functionName: "claimed", args: [runId, account] }),
  ]);
  return { earned, claimed, claimable: earned - claimed };
}

/** One ComputeRecorded entry of the ledger: what a cluster's owner was credited for a round. */
export interface ComputeCredit {
  round: number;
  clusterId: Hex;
  contributor: Address;
  gpuSeconds: number;
  reward: bigint;
}

/** Every credit the ledger recorded for a run, in chain order (from the deployment's first block). */
export async function computeCredits(governance: Governance, runId: Hex): Promise<ComputeCredit[]> {
  const logs = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    eventName: "ComputeRecorded",
    args: { runId },
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return logs.map((log) => ({
    round: Number(log.args.round),
    clusterId: log.args.clusterId!,
    contributor: log.args.contributor!,
    gpuSeconds: Number(log.args.gpuSeconds),
    reward: log.args.reward!,
  }));
}

export type CheckpointView =
  | { runId: Hex; round: bigint; committed: false }
  | {
      runId: Hex;
      round: bigint;
      committed: true;
      root: Hex;
      /** sha256 of the round record's canonical JSON, committed with the root. */
      recordHash: Hex;
      manifestUri: string;
      /** Where the public store serves it, once the operator published a released checkpoint. */
      publishedManifestUri: string | undefined;
      metrics: CheckpointMetrics;
      released: boolean;
      dispute: DisputeState;
      committedAt: bigint;
    };

export async function getCheckpoint(
  governance: Governance,
  runId: Hex,
  round: bigint,
): Promise<CheckpointView> {
  const registry = {
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
  } as const;
  const committed = await governance.publicClient.readContract({
    ...registry,
    functionName: "isCommitted",
    args: [runId, round],
  });
  if (!committed) return { runId, round, committed: false };
  const checkpoint = await governance.publicClient.readContract({
    ...registry,
    functionName: "getCheckpoint",
    args: [runId, round],
  });
  return {
    runId,
    round,
    committed: true,
    root: checkpoint.root,
    recordHash: checkpoint.recordHash,
    manifestUri: checkpoint.manifestUri,
    publishedManifestUri: checkpoint.publishedManifestUri || undefined,
    metrics: decodeMetrics(checkpoint.metrics),
    released: checkpoint.released,
    dispute: statusName(DISPUTE_STATES, checkpoint.dispute),
    committedAt: checkpoint.committedAt,
  };
}

/** The rounds of a run the DAO released, in the order it released them. */
export async function releasedRounds(governance: Governance, runId: Hex): Promise<readonly bigint[]> {
  return governance.publicClient.readContract({
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    functionName: "releasedRounds",
    args: [runId],
  });
}

/** The highest released round of a run, or undefined if none is released: what a download fetches. */
export async function latestReleasedRound(governance: Governance, runId: Hex): Promise<bigint | undefined> {
  const latest = await governance.publicClient.readContract({
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    functionName: "latestReleasedRound",
    args: [runId],
  });
  return latest.exists ? latest.round : undefined;
}

export async function tokenBalance(governance: Governance, account: Address): Promise<bigint> {
  return governance.publicClient.readContract({
    address: governance.deployment.dao.token,
    abi: daoTrainTokenAbi,
    functionName: "balanceOf",
    args: [account],
  });
}

/** The governance token's symbol, as its contract names it. */
export async function tokenSymbol(governance: Governance): Promise<string> {
  return governance.publicClient.readContract({
    address: governance.deployment.dao.token,
    abi: daoTrainTokenAbi,
    functionName: "symbol",
  });
}

export interface AttestationsView {
  /** Attestations that count toward a release now: those of current verifiers. */
  count: bigint;
  /** Everyone who attested the round, in order, revoked verifiers included. */
  attesters: readonly Address[];
  /** How many a release needs (the DAO's attestation quorum). */
  quorum: number;
}

/** Who attested a committed round, how many of them count now, and how many a release needs. */
export async function getAttestations(
  governance: Governance,
  runId: Hex,
  round: bigint,
): Promise<AttestationsView> {
  const registry = {
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
  } as const;
  const [count, attesters, quorum] = await Promise.all([
    governance.publicClient.readContract({
      ...registry,
      functionName: "attestationCount",
      args: [runId, round],
    }),
    governance.publicClient.readContract({ ...registry, functionName: "attesters", args: [runId, round] }),
    governance.publicClient.readContract({ ...registry, functionName: "attestationQuorum" }),
  ]);
  return { count, attesters, quorum };
}

/** The verdict `verifier` gave on the round, if any: how a restarted verifier knows it already judged. */
export async function verdictOf(
  governance: Governance,
  runId: Hex,
  round: bigint,
  verifier: Address,
): Promise<Verdict> {
  const verdict = await governance.publicClient.readContract({
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    functionName: "verdictOf",
    args: [runId, round, verifier],
  });
  return statusName(VERDICTS, verdict);
}
