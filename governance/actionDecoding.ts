import { type Address, decodeFunctionData, type Hex, isAddressEqual } from "viem";
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
import type { Deployment } from "./deployment.ts";
import { daoPermissionsAbi } from "./osxAbi.ts";
import type { ClusterSanction, DaoAction, RunLimits } from "./proposals.ts";

// What a proposal's actions will do, read back from their calldata with the contracts' own ABIs:
// the inverse of proposals.ts, so a member reviews what executes, not what a title claims.

/** The contracts a daotrain proposal may call, by the role they play in the deployment. */
export type ContractRole =
  | "dao"
  | "token"
  | "datasetRegistry"
  | "clusterRegistry"
  | "runRegistry"
  | "checkpointRegistry";

export type PermissionName = "governance" | "operator" | "credit" | "verifier";

export type DecodedAction =
  | { kind: "approveDataset"; root: Hex; uri: string; license: string }
  | { kind: "revokeDataset"; root: Hex }
  /** An admission names the owner the DAO admits the cluster for; a sanction names none. */
  | { kind: "cluster"; decision: "admit"; clusterId: Hex; owner: Address }
  | { kind: "cluster"; decision: ClusterSanction; clusterId: Hex }
  | {
      kind: "approveRun";
      runId: Hex;
      datasetRoot: Hex;
      gpuSecondsBudget: bigint;
      rewardPerGpuHour: bigint;
      limits: RunLimits;
      specUri: string;
    }
  | { kind: "cancelRun"; runId: Hex }
  | { kind: "releaseCheckpoint"; runId: Hex; round: bigint }
  /** How many current verifiers must attest a round before the DAO may release it. */
  | { kind: "attestationQuorum"; quorum: number }
  /** Upheld: the disputed round can never be released; dismissed: it can be again. */
  | { kind: "resolveDispute"; runId: Hex; round: bigint; upheld: boolean }
  /** The treasury lets `spender` take `amount` token base units (a run's escrow). */
  | { kind: "tokenAllowance"; spender: Address; spenderRole: ContractRole | undefined; amount: bigint }
  | {
      kind: "permission";
      change: "grant" | "revoke";
      where: Address;
      whereRole: ContractRole | undefined;
      who: Address;
      whoRole: ContractRole | undefined;
      permission: PermissionName | undefined;
      permissionId: Hex;
    }
  /** Calldata no daotrain ABI reads, native value sent, or a contract outside the deployment. */
  | { kind: "unknown"; to: Address; value: bigint; data: Hex; reason: string };

/** Which role an address plays in the deployment, if any. */
export function roleOf(deployment: Deployment, address: Address): ContractRole | undefined {
  const roles: Array<[ContractRole, Address]> = [
    ["dao", deployment.dao.address],
    ["token", deployment.dao.token],
    ...(Object.entries(deployment.contracts) as Array<[ContractRole, Address]>),
  ];
  return roles.find(([, at]) => isAddressEqual(at, address))?.[0];
}

function permissionName(permissionId: Hex): PermissionName | undefined {
  if (permissionId === GOVERNANCE_PERMISSION_ID) return "governance";
  if (permissionId === OPERATOR_PERMISSION_ID) return "operator";
  if (permissionId === CREDIT_PERMISSION_ID) return "credit";
  if (permissionId === VERIFIER_PERMISSION_ID) return "verifier";
  return undefined;
}

/**
 * One decoder per contract, each with that contract's `as const` ABI so that the arguments are
 * typed: a change of a function's signature fails here at compile time, not in a member's browser.
 * Undefined for a function daotrain's proposals never call.
 */
const decoders: Record<ContractRole, (deployment: Deployment, data: Hex) => DecodedAction | undefined> = {
  datasetRegistry(_, data) {
    const call = decodeFunctionData({ abi: datasetRegistryAbi, data });
    if (call.functionName === "approveDataset") {
      const [root, uri, license] = call.args;
      return { kind: "approveDataset", root, uri, license };
    }
    if (call.functionName === "revokeDataset") return { kind: "revokeDataset", root: call.args[0] };
    return undefined;
  },
  clusterRegistry(_, data) {
    const call = decodeFunctionData({ abi: clusterRegistryAbi, data });
    switch (call.functionName) {
      case "admitCluster":
        return { kind: "cluster", decision: "admit", clusterId: call.args[0], owner: call.args[1] };
      case "suspendCluster":
        return { kind: "cluster", decision: "suspend", clusterId: call.args[0] };
      case "removeCluster":
        return { kind: "cluster", decision: "remove", clusterId: call.args[0] };
      default:
        return undefined;
    }
  },
  runRegistry(_, data) {
    const call = decodeFunctionData({ abi: runRegistryAbi, data });
    if (call.functionName === "approveRun") {
      const [runId, datasetRoot, gpuSecondsBudget, rewardPerGpuHour, limits, specUri] = call.args;
      return { kind: "approveRun", runId, datasetRoot, gpuSecondsBudget, rewardPerGpuHour, limits, specUri };
    }
    if (call.functionName === "cancelRun") return { kind: "cancelRun", runId: call.args[0] };
    return undefined;
  },
  checkpointRegistry(_, data) {
    const call = decodeFunctionData({ abi: checkpointRegistryAbi, data });
    switch (call.functionName) {
      case "releaseCheckpoint":
        return { kind: "releaseCheckpoint", runId: call.args[0], round: call.args[1] };
      case "setAttestationQuorum":
        return { kind: "attestationQuorum", quorum: call.args[0] };
      case "resolveDispute": {
        const [runId, round, upheld] = call.args;
        return { kind: "resolveDispute", runId, round, upheld };
      }
      default:
        return undefined;
    }
  },
  token(deployment, data) {
    const call = decodeFunctionData({ abi: daoTrainTokenAbi, data });
    if (call.functionName !== "approve") return undefined;
    const [spender, amount] = call.args;
    return { kind: "tokenAllowance", spender, spenderRole: roleOf(deployment, spender), amount };
  },
  dao(deployment, data) {
    const call = decodeFunctionData({ abi: daoPermissionsAbi, data });
    if (call.functionName !== "grant" && call.functionName !== "revoke") return undefined;
    const [where, who, permissionId] = call.args;
    return {
      kind: "permission",
      change: call.functionName,
      where,
      whereRole: roleOf(deployment, where),
      who,
      whoRole: roleOf(deployment, who),
      permission: permissionName(permissionId),
      permissionId,
    };
  },
};

/** Reads one action back into what it does; calldata nobody can read stays `unknown`, with why. */
export function decodeAction(deployment: Deployment, action: DaoAction): DecodedAction {
  const unknown = (reason: string): DecodedAction => ({ kind: "unknown", ...action, reason });
  if (action.value !== 0n) return unknown("it sends the chain's native currency from the treasury");
  const role = roleOf(deployment, action.to);
  if (!role) return unknown("it calls a contract outside daotrain's deployment");
  try {
    return (
      decoders[role](deployment, action.data) ??
      unknown(`it calls a function of the ${role} that daotrain's proposals never call`)
    );
  } catch {
    return unknown(`its calldata matches no function of the ${role}`);
  }
}
