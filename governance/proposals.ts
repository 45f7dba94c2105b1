import { type Address, encodeFunctionData, formatUnits, type Hex } from "viem";
import {
  checkpointRegistryAbi,
  clusterRegistryAbi,
  daoTrainTokenAbi,
  datasetRegistryAbi,
  runRegistryAbi,
} from "../contracts/abi/index.ts";
import {
  CREDIT_PERMISSION_ID,
  GOVERNANCE_PERMISSION_ID,
  OPERATOR_PERMISSION_ID,
  VERIFIER_PERMISSION_ID,
} from "../contracts/permissions.ts";
import { type RunSpec, runIdOf } from "../spec/runSpec.ts";
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

/**
 * Admits a registered cluster for the owner who registered it: the contract reverts if `owner`
 * did not register `clusterId`, so an id squatted before the vote executes is not admitted. Also
 * how the DAO approves a capacity the owner raised after its admission.
 */
export function admitClusterProposal(
  contracts: Contracts,
  cluster: { clusterId: Hex; owner: Address; gpuCapacity: number },
): ProposalDraft {
  return {
    title: `Admit cluster ${cluster.clusterId}`,
    summary: `Admit the cluster of ${cluster.owner} with ${cluster.gpuCapacity} GPUs: the orchestrator may schedule rounds on that many of its GPUs and it earns rewards.`,
    actions: [
      call(
        contracts.clusterRegistry,
        encodeFunctionData({
          abi: clusterRegistryAbi,
          functionName: "admitCluster",
          args: [cluster.clusterId, cluster.owner],
        }),
      ),
    ],
  };
}

export const CLUSTER_SANCTIONS = ["suspend", "remove"] as const;
export type ClusterSanction = (typeof CLUSTER_SANCTIONS)[number];

const sanctionFunctions = {
  suspend: "suspendCluster",
  remove: "removeCluster",
} as const satisfies Record<ClusterSanction, string>;

export function clusterSanctionProposal(
  contracts: Contracts,
  sanction: ClusterSanction,
  clusterId: Hex,
): ProposalDraft {
  return {
    title: `${sanction === "suspend" ? "Suspend" : "Remove"} cluster ${clusterId}`,
    summary:
      sanction === "suspend"
        ? "Suspend the cluster: it gets no new work and earns nothing until admitted again."
        : "Remove the cluster for good.",
    actions: [
      call(
        contracts.clusterRegistry,
        encodeFunctionData({
          abi: clusterRegistryAbi,
          functionName: sanctionFunctions[sanction],
          args: [clusterId],
        }),
      ),
    ],
  };
}

/** What the DAO lets the operator do in a run (RunRegistry.RunLimits), from the run spec. */
export interface RunLimits {
  rounds: number;
  replicasPerRound: number;
  gpusPerReplica: number;
  roundDeadlineSeconds: number;
}

export interface RunApproval {
  runId: Hex;
  datasetRoot: Hex;
  gpuSecondsBudget: bigint;
  rewardPerGpuHour: bigint;
  limits: RunLimits;
  specUri: string;
}

/** The limits a run spec sets on the operator; the contract enforces them for the run's life. */
export function runLimitsOf(spec: RunSpec): RunLimits {
  return {
    rounds: spec.rounds,
    replicasPerRound: spec.replicasPerRound,
    gpusPerReplica: spec.gpusPerReplica,
    roundDeadlineSeconds: spec.roundDeadlineSeconds,
  };
}

/** Everything `approveRun` takes, from the spec and where members can read it. */
export function runApprovalOf(spec: RunSpec, specUri: string): RunApproval {
  return {
    runId: runIdOf(spec),
    datasetRoot: spec.dataset,
    gpuSecondsBudget: BigInt(Math.round(spec.gpuHourBudget * 3600)),
    rewardPerGpuHour: BigInt(spec.rewardPerGpuHour),
    limits: runLimitsOf(spec),
    specUri,
  };
}

/**
 * Approves a run and funds its escrow from the treasury: the DAO first allows RunRegistry to
 * take `escrow` tokens, then approveRun pulls them (contracts/README.md, "Funding flow").
 * `escrow` must equal RunRegistry.escrowFor(gpuSecondsBudget, rewardPerGpuHour).
 */
export function approveRunProposal(deployment: Deployment, run: RunApproval, escrow: bigint): ProposalDraft {
  const { runRegistry } = deployment.contracts;
  const { rounds, replicasPerRound, gpusPerReplica, roundDeadlineSeconds } = run.limits;
  return {
    title: `Approve and fund run ${run.runId}`,
    summary: `Train run ${run.runId} on dataset ${run.datasetRoot} with ${run.gpuSecondsBudget} GPU-seconds at ${run.rewardPerGpuHour} token units per GPU-hour; move ${escrow} token units from the treasury into its escrow. The operator may commit rounds 1 to ${rounds}, each crediting at most ${replicasPerRound} replicas × ${gpusPerReplica} GPUs × ${roundDeadlineSeconds} s. Spec: ${run.specUri}`,
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
          args: [
            run.runId,
            run.datasetRoot,
            run.gpuSecondsBudget,
            run.rewardPerGpuHour,
            run.limits,
            run.specUri,
          ],
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

/**
 * Releases a committed round. It executes only if at least the DAO's attestation quorum of
 * current verifiers attested the round and no dispute on it is open or upheld; `attestations`
 * (read when proposing) tells the voters how many did.
 */
export function releaseCheckpointProposal(
  contracts: Contracts,
  runId: Hex,
  round: bigint,
  attestations?: { count: bigint; quorum: number },
): ProposalDraft {
  const attested =
    attestations === undefined
      ? ""
      : ` ${attestations.count} verifier(s) attested it; the release needs ${attestations.quorum}.`;
  return {
    title: `Release checkpoint ${runId} round ${round}`,
    summary: `Release the committed checkpoint of this round for public download.${attested}`,
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

/** Appoints a verifier: it may attest or dispute committed rounds (CheckpointRegistry). */
export function grantVerifierProposal(deployment: Deployment, verifier: Address): ProposalDraft {
  return {
    title: `Appoint ${verifier} as a verifier`,
    summary:
      "Let this address attest or dispute committed rounds; its attestations count toward the quorum a release needs.",
    actions: [
      grant(
        deployment.dao.address,
        deployment.contracts.checkpointRegistry,
        verifier,
        VERIFIER_PERMISSION_ID,
      ),
    ],
  };
}

/**
 * Dismisses a verifier: its attestations of rounds not yet released stop counting toward their
 * quorum (releases already made stand); a dispute it opened stays open until the DAO resolves it.
 */
export function revokeVerifierProposal(deployment: Deployment, verifier: Address): ProposalDraft {
  return {
    title: `Dismiss the verifier ${verifier}`,
    summary:
      "Stop this address from attesting or disputing rounds; its attestations of unreleased rounds no longer count.",
    actions: [
      revoke(
        deployment.dao.address,
        deployment.contracts.checkpointRegistry,
        verifier,
        VERIFIER_PERMISSION_ID,
      ),
    ],
  };
}

/** Sets how many current verifiers must attest a round before the DAO can release it (0: none). */
export function attestationQuorumProposal(contracts: Contracts, quorum: number): ProposalDraft {
  return {
    title: `Require ${quorum} attestation(s) per release`,
    summary: `A round can be released only after ${quorum} current verifier(s) attested it.`,
    actions: [
      call(
        contracts.checkpointRegistry,
        encodeFunctionData({
          abi: checkpointRegistryAbi,
          functionName: "setAttestationQuorum",
          args: [quorum],
        }),
      ),
    ],
  };
}

/**
 * Resolves an open dispute on a round: upheld, the round can never be released; dismissed, it can
 * be released again once attested.
 */
export function resolveDisputeProposal(
  contracts: Contracts,
  dispute: { runId: Hex; round: bigint; upheld: boolean },
): ProposalDraft {
  return {
    title: `${dispute.upheld ? "Uphold" : "Dismiss"} the dispute on ${dispute.runId} round ${dispute.round}`,
    summary: dispute.upheld
      ? "The disputed root is wrong: this round can never be released."
      : "The dispute is unfounded: the round can be released again once attested.",
    actions: [
      call(
        contracts.checkpointRegistry,
        encodeFunctionData({
          abi: checkpointRegistryAbi,
          functionName: "resolveDispute",
          args: [dispute.runId, dispute.round, dispute.upheld],
        }),
      ),
    ],
  };
}

/**
 * The DAO's first proposal: it takes governance of daotrain's four registries (only an executed
 * proposal can then call their governance functions), lets the checkpoint registry credit compute
 * in the run registry (inside a round's commit), and grants the orchestrator its permission.
 */
export function bindContractsProposal(deployment: Deployment): ProposalDraft {
  const { dao, contracts, operator } = deployment;
  return {
    title: "Govern daotrain's registries and appoint the orchestrator",
    summary: `The DAO takes GOVERNANCE_PERMISSION on the dataset, cluster, run and checkpoint registries, grants the checkpoint registry CREDIT_PERMISSION on the run registry and grants OPERATOR_PERMISSION to ${operator}.`,
    actions: [
      ...Object.values(contracts).map((where) =>
        grant(dao.address, where, dao.address, GOVERNANCE_PERMISSION_ID),
      ),
      grant(dao.address, contracts.runRegistry, contracts.checkpointRegistry, CREDIT_PERMISSION_ID),
      ...grantOperatorProposal(deployment, operator).actions,
    ],
  };
}
