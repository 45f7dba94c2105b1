import { type Address, encodeFunctionData, formatUnits, type Hex } from "viem";
import {
  checkpointRegistryAbi,
  clusterRegistryAbi,
  daoTrainTokenAbi,
  datasetRegistryAbi,
  runRegistryAbi,
} from "../contracts/abi/index.ts";
import { GOVERNANCE_PERMISSION_ID, OPERATOR_PERMISSION_ID } from "../contracts/permissions.ts";
import type { Deployment } from "./deployment.ts";
import { daoPermissionsAbi } from "./osxAbi.ts";

// Proposal builders: plain functions from what the DAO should decide to the actions it will
// execute. They read nothing from the chain, so they are tested on their output.

/** One call the DAO makes when the proposal executes (OSx's IDAO.Action). */
export interface DaoAction {
  to: Address;
  value: bigint;
  data: Hex;
}

/** What members read before they vote; its fields are proposal metadata in the shape Aragon's apps read. */
export interface ProposalDraft {
  title: string;
  summary: string;
  /** The longer text under the summary: what executing the proposal does, in words. */
  description?: string;
  /** Links a member may follow (a dataset manifest, a run spec). */
  resources?: Array<{ name: string; url: string }>;
  actions: DaoAction[];
}

/** daotrain's governance token has 18 decimals (DaoTrainToken is a plain ERC20Votes). */
export const TOKEN_DECIMALS = 18;

/** Where a resource link helps a reader: an inline data: URI is the proposal's own payload, not a link. */
const linkable = (name: string, url: string) => (url.startsWith("data:") ? [] : [{ name, url }]);

type Contracts = Deployment["contracts"];

const call = (to: Address, data: Hex): DaoAction => ({ to, value: 0n, data });

export function approveDatasetProposal(
  contracts: Contracts,
  dataset: { root: Hex; uri: string; license: string },
): ProposalDraft {
  return {
    title: `Approve dataset ${dataset.root}`,
    summary: `Approve the dataset at ${dataset.uri} (license ${dataset.license}) for training runs.`,
    description: `Executing this proposal records dataset ${dataset.root} as approved in the dataset registry, with its location ${dataset.uri} and license "${dataset.license}". Runs may then train on it; the orchestrator and every trainer verify each shard against the root before use.`,
    resources: linkable("Dataset manifest", dataset.uri),
    actions: [
      call(
        contracts.datasetRegistry,
        encodeFunctionData({
          abi: datasetRegistryAbi,
          functionName: "approveDataset",
          args: [dataset.root, dataset.uri, dataset.license],
        }),
      ),
    ],
  };
}

export function revokeDatasetProposal(contracts: Contracts, root: Hex): ProposalDraft {
  return {
    title: `Revoke dataset ${root}`,
    summary: "Revoke the dataset so that no new run may use it.",
    actions: [
      call(
        contracts.datasetRegistry,
        encodeFunctionData({ abi: datasetRegistryAbi, functionName: "revokeDataset", args: [root] }),
      ),
    ],
  };
}

export const CLUSTER_DECISIONS = ["admit", "suspend", "remove"] as const;
export type ClusterDecision = (typeof CLUSTER_DECISIONS)[number];

const clusterFunctions = {
  admit: "admitCluster",
  suspend: "suspendCluster",
  remove: "removeCluster",
} as const satisfies Record<ClusterDecision, string>;

export function clusterProposal(
  contracts: Contracts,
  decision: ClusterDecision,
  clusterId: Hex,
): ProposalDraft {
  return {
    title: `${decision[0]?.toUpperCase()}${decision.slice(1)} cluster ${clusterId}`,
    summary:
      decision === "admit"
        ? "Admit the cluster: the orchestrator may schedule rounds on it and it earns rewards."
        : decision === "suspend"
          ? "Suspend the cluster: it gets no new work and earns nothing until admitted again."
          : "Remove the cluster for good.",
    actions: [
      call(
        contracts.clusterRegistry,
        encodeFunctionData({
          abi: clusterRegistryAbi,
          functionName: clusterFunctions[decision],
          args: [clusterId],
        }),
      ),
    ],
  };
}

export interface RunApproval {
  runId: Hex;
  datasetRoot: Hex;
  gpuSecondsBudget: bigint;
  rewardPerGpuHour: bigint;
  specUri: string;
}

/**
 * Approves a run and funds its escrow from the treasury: the DAO first allows RunRegistry to
 * take `escrow` tokens, then approveRun pulls them (contracts/README.md, "Funding flow").
 * `escrow` must equal RunRegistry.escrowFor(gpuSecondsBudget, rewardPerGpuHour).
 */
export function approveRunProposal(deployment: Deployment, run: RunApproval, escrow: bigint): ProposalDraft {
  const { runRegistry } = deployment.contracts;
  return {
    title: `Approve and fund run ${run.runId}`,
    summary: `Train run ${run.runId} on dataset ${run.datasetRoot} with ${run.gpuSecondsBudget} GPU-seconds at ${run.rewardPerGpuHour} token units per GPU-hour; move ${escrow} token units from the treasury into its escrow. Spec: ${run.specUri}`,
    description: `Executing this proposal (1) lets the run registry take ${formatUnits(escrow, TOKEN_DECIMALS)} tokens from the DAO treasury and (2) approves run ${run.runId}: a budget of ${Number(run.gpuSecondsBudget) / 3600} GPU-hours at ${formatUnits(run.rewardPerGpuHour, TOKEN_DECIMALS)} tokens per verified GPU-hour, on dataset ${run.datasetRoot}. The escrow pays contributors for verified compute only; what is not credited returns to the treasury when the run closes.`,
    resources: linkable("Run spec", run.specUri),
    actions: [
      call(
        deployment.dao.token,
        encodeFunctionData({ abi: daoTrainTokenAbi, functionName: "approve", args: [runRegistry, escrow] }),
      ),
      call(
        runRegistry,
        encodeFunctionData({
          abi: runRegistryAbi,
          functionName: "approveRun",
          args: [run.runId, run.datasetRoot, run.gpuSecondsBudget, run.rewardPerGpuHour, run.specUri],
        }),
      ),
    ],
  };
}

export function cancelRunProposal(contracts: Contracts, runId: Hex): ProposalDraft {
  return {
    title: `Cancel run ${runId}`,
    summary: "Stop the run; what no contributor has been credited returns to the treasury.",
    actions: [
      call(
        contracts.runRegistry,
        encodeFunctionData({ abi: runRegistryAbi, functionName: "cancelRun", args: [runId] }),
      ),
    ],
  };
}

export function releaseCheckpointProposal(contracts: Contracts, runId: Hex, round: bigint): ProposalDraft {
  return {
    title: `Release checkpoint ${runId} round ${round}`,
    summary: "Release the committed checkpoint of this round for public download.",
    description: `Executing this proposal releases round ${round} of run ${runId}: the orchestrator publishes the checkpoint whose Merkle root was committed on-chain for that round, and anyone can then download it with \`daotrain download ${runId} --round ${round}\`, verified shard by shard against that root.`,
    actions: [
      call(
        contracts.checkpointRegistry,
        encodeFunctionData({
          abi: checkpointRegistryAbi,
          functionName: "releaseCheckpoint",
          args: [runId, round],
        }),
      ),
    ],
  };
}

const grant = (dao: Address, where: Address, who: Address, permissionId: Hex): DaoAction =>
  call(
    dao,
    encodeFunctionData({ abi: daoPermissionsAbi, functionName: "grant", args: [where, who, permissionId] }),
  );
const revoke = (dao: Address, where: Address, who: Address, permissionId: Hex): DaoAction =>
  call(
    dao,
    encodeFunctionData({ abi: daoPermissionsAbi, functionName: "revoke", args: [where, who, permissionId] }),
  );

/** Lets `operator` commit checkpoints and record compute (RunRegistry and CheckpointRegistry). */
export function grantOperatorProposal(deployment: Deployment, operator: Address): ProposalDraft {
  const { dao, contracts } = deployment;
  return {
    title: `Grant the operator permission to ${operator}`,
    summary: "Let this orchestrator commit checkpoint roots and record verified compute.",
    actions: [contracts.runRegistry, contracts.checkpointRegistry].map((where) =>
      grant(dao.address, where, operator, OPERATOR_PERMISSION_ID),
    ),
  };
}

export function revokeOperatorProposal(deployment: Deployment, operator: Address): ProposalDraft {
  const { dao, contracts } = deployment;
  return {
    title: `Revoke the operator permission from ${operator}`,
    summary: "Stop this orchestrator from committing checkpoints and recording compute.",
    actions: [contracts.runRegistry, contracts.checkpointRegistry].map((where) =>
      revoke(dao.address, where, operator, OPERATOR_PERMISSION_ID),
    ),
  };
}

/**
 * The DAO's first proposal: it takes governance of daotrain's four registries (only an executed
 * proposal can then call their governance functions) and grants the orchestrator its permission.
 */
export function bindContractsProposal(deployment: Deployment): ProposalDraft {
  const { dao, contracts, operator } = deployment;
  return {
    title: "Govern daotrain's registries and appoint the orchestrator",
    summary: `The DAO takes GOVERNANCE_PERMISSION on the dataset, cluster, run and checkpoint registries and grants OPERATOR_PERMISSION to ${operator}.`,
    actions: [
      ...Object.values(contracts).map((where) =>
        grant(dao.address, where, dao.address, GOVERNANCE_PERMISSION_ID),
      ),
      ...grantOperatorProposal(deployment, operator).actions,
    ],
  };
}
