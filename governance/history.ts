import type { Hex } from "viem";
import { checkpointRegistryAbi, datasetRegistryAbi, runRegistryAbi } from "../contracts/abi/index.ts";
import type { Governance } from "./chain.ts";
import { type CheckpointMetrics, decodeMetrics } from "./metrics.ts";

// Lists that only the registries' events hold (the contracts keep no index of runs or datasets),
// read from the deployment's first block. Each entry names the transaction that made it.

/** Every run the DAO approved, oldest first. */
export async function approvedRunIds(governance: Governance): Promise<Hex[]> {
  const logs = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    eventName: "RunApproved",
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return logs.map((log) => log.args.runId!);
}

/** Every dataset root the DAO ever approved, oldest first, once each (a revoked one included). */
export async function approvedDatasetRoots(governance: Governance): Promise<Hex[]> {
  const logs = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.datasetRegistry,
    abi: datasetRegistryAbi,
    eventName: "DatasetApproved",
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return [...new Set(logs.map((log) => log.args.root!))];
}

export interface CheckpointCommit {
  round: number;
  root: Hex;
  manifestUri: string;
  metrics: CheckpointMetrics;
  txHash: Hex;
}

/** The commits of a run's checkpoints (one per round), by round, with the transaction that committed each. */
export async function checkpointCommits(governance: Governance, runId: Hex): Promise<CheckpointCommit[]> {
  const logs = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    eventName: "CheckpointCommitted",
    args: { runId },
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return logs
    .map((log) => ({
      round: Number(log.args.round),
      root: log.args.root!,
      manifestUri: log.args.manifestUri!,
      metrics: decodeMetrics(log.args.metrics!),
      txHash: log.transactionHash,
    }))
    .sort((a, b) => a.round - b.round);
}

/** The transaction in which the DAO released a round, or undefined while it is not released. */
export async function checkpointReleaseTx(
  governance: Governance,
  runId: Hex,
  round: number,
): Promise<Hex | undefined> {
  const [released] = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    eventName: "CheckpointReleased",
    args: { runId, round: BigInt(round) },
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return released?.transactionHash;
}
