import { decodeFunctionData, type Hex, hexToString, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { clusterRegistryAbi, daoTrainTokenAbi, runRegistryAbi } from "../../contracts/abi/index.ts";
import {
  CREDIT_PERMISSION_ID,
  GOVERNANCE_PERMISSION_ID,
  OPERATOR_PERMISSION_ID,
  VERIFIER_PERMISSION_ID,
} from "../../contracts/permissions.ts";
import { dataUri, decodeMetadata } from "../../governance/metadata.ts";
import { daoPermissionsAbi } from "../../governance/osxAbi.ts";
import { stateOf } from "../../governance/proposalReads.ts";
import {
  admitClusterProposal,
  approveRunProposal,
  bindContractsProposal,
  grantVerifierProposal,
  revokeVerifierProposal,
  runApprovalOf,
} from "../../governance/proposals.ts";
import { runIdOf } from "../../spec/runSpec.ts";
import { tinySpec } from "../orchestration/fixtures.ts";
import { address, id, unitDeployment } from "./fixture.ts";

const deployment = unitDeployment;

describe("proposal builders", () => {
  it("a run proposal first lets RunRegistry take exactly the escrow, then approves the run with its limits", () => {
    const limits = { rounds: 3, replicasPerRound: 4, gpusPerReplica: 2, roundDeadlineSeconds: 600 };
    const run = {
      runId: id("run"),
      datasetRoot: id("data"),
      gpuSecondsBudget: 7200n,
      rewardPerGpuHour: 5n,
      limits,
      specUri: "file:///spec.yaml",
    };
    const [allow, approve] = approveRunProposal(deployment, run, 10n).actions;
    expect(allow?.to).toBe(deployment.dao.token);
    expect(decodeFunctionData({ abi: daoTrainTokenAbi, data: allow!.data })).toEqual({
      functionName: "approve",
      args: [deployment.contracts.runRegistry, 10n],
    });
    expect(approve?.to).toBe(deployment.contracts.runRegistry);
    expect(decodeFunctionData({ abi: runRegistryAbi, data: approve!.data })).toEqual({
      functionName: "approveRun",
      args: [run.runId, run.datasetRoot, 7200n, 5n, limits, run.specUri],
    });
  });

  it("a run's approval carries the spec's id, budget, rate and the limits the contract holds the operator to", () => {
    const spec = tinySpec({ roundDeadlineSeconds: 900, gpuHourBudget: 1.5 });
    expect(runApprovalOf(spec, "data:x")).toEqual({
      runId: runIdOf(spec),
      datasetRoot: spec.dataset,
      gpuSecondsBudget: 5400n,
      rewardPerGpuHour: BigInt(spec.rewardPerGpuHour),
      limits: {
        rounds: spec.rounds,
        replicasPerRound: spec.replicasPerRound,
        gpusPerReplica: spec.gpusPerReplica,
        roundDeadlineSeconds: 900,
      },
      specUri: "data:x",
    });
  });

  it("an admission names the owner the DAO votes for", () => {
    const [admit] = admitClusterProposal(deployment.contracts, {
      clusterId: id("cluster"),
      owner: address(30),
      gpuCapacity: 8,
    }).actions;
    expect(admit?.to).toBe(deployment.contracts.clusterRegistry);
    expect(decodeFunctionData({ abi: clusterRegistryAbi, data: admit!.data })).toEqual({
      functionName: "admitCluster",
      args: [id("cluster"), address(30)],
    });
  });

  it("appointing and dismissing a verifier grant and revoke VERIFIER_PERMISSION on the checkpoint registry", () => {
    const decoded = (draft: { actions: { to: string; data: Hex }[] }) =>
      draft.actions.map((a) => {
        expect(a.to).toBe(deployment.dao.address);
        return decodeFunctionData({ abi: daoPermissionsAbi, data: a.data });
      });
    const where = deployment.contracts.checkpointRegistry;
    expect(decoded(grantVerifierProposal(deployment, address(40)))).toEqual([
      { functionName: "grant", args: [where, address(40), VERIFIER_PERMISSION_ID] },
    ]);
    expect(decoded(revokeVerifierProposal(deployment, address(40)))).toEqual([
      { functionName: "revoke", args: [where, address(40), VERIFIER_PERMISSION_ID] },
    ]);
  });

  it("the binding proposal gives the DAO governance of all four registries, the checkpoint registry its credit permission and the operator its two permissions", () => {
    const grants = bindContractsProposal(deployment).actions.map((a) => {
      expect(a.to).toBe(deployment.dao.address);
      const { functionName, args } = decodeFunctionData({ abi: daoPermissionsAbi, data: a.data });
      expect(functionName).toBe("grant");
      return args;
    });
    expect(grants).toEqual([
      ...Object.values(deployment.contracts).map((r) => [
        r,
        deployment.dao.address,
        GOVERNANCE_PERMISSION_ID,
      ]),
      [deployment.contracts.runRegistry, deployment.contracts.checkpointRegistry, CREDIT_PERMISSION_ID],
      [deployment.contracts.runRegistry, deployment.operator, OPERATOR_PERMISSION_ID],
      [deployment.contracts.checkpointRegistry, deployment.operator, OPERATOR_PERMISSION_ID],
    ]);
  });
});

describe("proposal metadata and state", () => {
  it("reads title and summary from a data: URI and shows any other metadata as its text", () => {
    const inline = stringToHex(dataUri({ title: "Release", summary: "round 3" }));
    expect(decodeMetadata(inline)).toEqual({
      title: "Release",
      summary: "round 3",
      description: "",
      resources: [],
    });
    const plain: Hex = stringToHex("ipfs://Qm…");
    expect(decodeMetadata(plain)).toEqual({
      title: hexToString(plain),
      summary: "",
      description: "",
      resources: [],
    });
  });

  it("derives the state from executed, open, start date and executability", () => {
    const at = (now: bigint, p: { executed?: boolean; open?: boolean }, executable = false) =>
      stateOf({ executed: false, open: false, startDate: 100n, ...p }, executable, now);
    expect(at(50n, {})).toBe("pending");
    expect(at(150n, { open: true })).toBe("active");
    expect(at(150n, {}, true)).toBe("succeeded");
    expect(at(150n, {})).toBe("defeated");
    expect(at(150n, { executed: true })).toBe("executed");
  });
});
