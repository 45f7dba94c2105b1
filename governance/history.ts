import type { Hex } from "viem";
import { checkpointRegistryAbi, datasetRegistryAbi, runRegistryAbi } from "../contracts/abi/index.ts";
import type { Governance } from "./chain.ts";

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
  txHash: Hex;
}

/** The commits of a run's checkpoints, by round, with the transaction that committed each. */
export async function checkpointCommits(governance: Governance, runId: Hex): Promise<CheckpointCommit[]> {
  const logs = await governance.publicClient.getContractEvents({
    address: governance.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    eventName: "CheckpointCommitted",
    args: { runId },
    fromBlock: BigInt(governance.deployment.startBlock),
  });
  return logs
    .map((log) => ({ round: Number(log.args.round), root: log.args.root!, txHash: log.transactionHash }))
    .sort((a, b) => a.round - b.round);
}
