import type { Address } from "viem";
import { type ContractRole, type DecodedAction, decodeAction } from "../../governance/actionDecoding.ts";
import { roundAttestations } from "../../governance/attestations.ts";
import type { DaoAction } from "../../governance/proposals.ts";
import { escrowFor, getCheckpoint, getCluster, getDataset } from "../../governance/reads.ts";
import type { ActionView } from "../api.ts";
import { manifestSummary, specSummary } from "./publicFiles.ts";
import type { ConsoleSources } from "./sources.ts";

// A proposal's actions as a member should read them: decoded from calldata, then explained with
// what the chain and the referenced files say (the cluster's owner, the spec behind a run id).

const roleNames: Record<ContractRole, string> = {
  dao: "the DAO",
  token: "the governance token",
  datasetRegistry: "the dataset registry",
  clusterRegistry: "the cluster registry",
  runRegistry: "the run registry",
  checkpointRegistry: "the checkpoint registry",
};

function nameOf(sources: ConsoleSources, address: Address, role: ContractRole | undefined): string {
  if (role) return roleNames[role];
  if (address.toLowerCase() === sources.governance.deployment.operator.toLowerCase())
    return "the orchestrator (operator)";
  return address;
}

async function explain(sources: ConsoleSources, action: DecodedAction): Promise<ActionView> {
  const { governance, storeOptions } = sources;
  switch (action.kind) {
    case "approveDataset":
      return { ...action, manifest: await manifestSummary(action.uri, action.root, storeOptions) };
    case "revokeDataset":
    case "cancelRun":
    case "attestationQuorum":
      return action;
    case "resolveDispute":
      return { ...action, round: Number(action.round) };
    case "cluster": {
      const cluster = await getCluster(governance, action.clusterId);
      return {
        ...action,
        cluster:
          cluster.status === "none"
            ? { registered: false }
            : {
                registered: true,
                name: cluster.metadata,
                owner: cluster.owner,
                status: cluster.status,
                gpuCapacity: cluster.gpuCapacity,
                gpuProduct: cluster.gpuProduct,
              },
      };
    }
    case "approveRun": {
      const [escrow, dataset, spec] = await Promise.all([
        escrowFor(governance, action.gpuSecondsBudget, action.rewardPerGpuHour),
        getDataset(governance, action.datasetRoot),
        specSummary(action.specUri, action.runId, storeOptions),
      ]);
      return {
        ...action,
        gpuSecondsBudget: Number(action.gpuSecondsBudget),
        rewardPerGpuHour: String(action.rewardPerGpuHour),
        escrow: String(escrow),
        datasetApproved: dataset.approved,
        specUri: action.specUri.startsWith("data:")
          ? `inline (a data: URI of ${action.specUri.length} characters)`
          : action.specUri,
        spec,
      };
    }
    case "releaseCheckpoint": {
      const [checkpoint, attestations] = await Promise.all([
        getCheckpoint(governance, action.runId, action.round),
        roundAttestations(governance, action.runId, action.round),
      ]);
      return {
        kind: "releaseCheckpoint",
        runId: action.runId,
        round: Number(action.round),
        checkpoint: checkpoint.committed
          ? {
              committed: true,
              root: checkpoint.root,
              loss: checkpoint.metrics.loss,
              valLoss: checkpoint.metrics.valLoss,
            }
          : { committed: false },
        attestations,
      };
    }
    case "tokenAllowance":
      return {
        kind: "tokenAllowance",
        spender: action.spender,
        spenderName: nameOf(sources, action.spender, action.spenderRole),
        amount: String(action.amount),
      };
    case "permission":
      return {
        kind: "permission",
        change: action.change,
        where: action.where,
        whereName: nameOf(sources, action.where, action.whereRole),
        who: action.who,
        whoName: nameOf(sources, action.who, action.whoRole),
        permission: action.permission ?? action.permissionId,
      };
    case "unknown":
      return {
        kind: "unknown",
        to: action.to,
        value: String(action.value),
        selector: action.data.slice(0, 10),
        reason: action.reason,
      };
  }
}

export function explainActions(
  sources: ConsoleSources,
  actions: readonly DaoAction[],
): Promise<ActionView[]> {
  const { deployment } = sources.governance;
  return Promise.all(actions.map((action) => explain(sources, decodeAction(deployment, action))));
}
