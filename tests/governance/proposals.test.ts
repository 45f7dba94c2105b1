import { decodeFunctionData, type Hex, hexToString, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { daoTrainTokenAbi, runRegistryAbi } from "../../contracts/abi/index.ts";
import { GOVERNANCE_PERMISSION_ID, OPERATOR_PERMISSION_ID } from "../../contracts/permissions.ts";
import { dataUri, decodeMetadata } from "../../governance/metadata.ts";
import { daoPermissionsAbi } from "../../governance/osxAbi.ts";
import { stateOf } from "../../governance/proposalReads.ts";
import { approveRunProposal, bindContractsProposal } from "../../governance/proposals.ts";
import { id, unitDeployment } from "./fixture.ts";

const deployment = unitDeployment;

describe("proposal builders", () => {
  it("a run proposal first lets RunRegistry take exactly the escrow, then approves the run", () => {
    const run = {
      runId: id("run"),
      datasetRoot: id("data"),
      gpuSecondsBudget: 7200n,
      rewardPerGpuHour: 5n,
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
      args: [run.runId, run.datasetRoot, 7200n, 5n, run.specUri],
    });
  });

  it("the binding proposal gives the DAO governance of all four registries and the operator its two permissions", () => {
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
