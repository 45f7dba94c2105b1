import { encodeFunctionData, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { runRegistryAbi } from "../../contracts/abi/index.ts";
import { GOVERNANCE_PERMISSION_ID } from "../../contracts/permissions.ts";
import { decodeAction } from "../../governance/actionDecoding.ts";
import { decodeMetadata, proposalMetadataUri } from "../../governance/metadata.ts";
import {
  admitClusterProposal,
  approveDatasetProposal,
  approveRunProposal,
  bindContractsProposal,
  releaseCheckpointProposal,
} from "../../governance/proposals.ts";
import { address, id, unitDeployment } from "./fixture.ts";

const deployment = unitDeployment;

describe("decoding a proposal's actions back into what they do", () => {
  it("reads every builder's actions back into their arguments", () => {
    const run = {
      runId: id("run"),
      datasetRoot: id("data"),
      gpuSecondsBudget: 7200n,
      rewardPerGpuHour: 5n,
      limits: { rounds: 3, replicasPerRound: 4, gpusPerReplica: 1, roundDeadlineSeconds: 600 },
      specUri: "file:///spec.json",
    };
    const decoded = [
      ...approveDatasetProposal(deployment.contracts, { root: id("d"), uri: "file:///d", license: "CC0-1.0" })
        .actions,
      ...admitClusterProposal(deployment.contracts, { clusterId: id("c"), owner: address(7), gpuCapacity: 8 })
        .actions,
      ...approveRunProposal(deployment, run, 10n).actions,
      ...releaseCheckpointProposal(deployment.contracts, run.runId, 3n).actions,
    ].map((action) => decodeAction(deployment, action));
    expect(decoded).toEqual([
      { kind: "approveDataset", root: id("d"), uri: "file:///d", license: "CC0-1.0" },
      { kind: "cluster", decision: "admit", clusterId: id("c"), owner: address(7) },
      {
        kind: "tokenAllowance",
        spender: deployment.contracts.runRegistry,
        spenderRole: "runRegistry",
        amount: 10n,
      },
      { kind: "approveRun", ...run },
      { kind: "releaseCheckpoint", runId: run.runId, round: 3n },
    ]);
  });

  it("names the DAO, the registries and the permissions a grant concerns", () => {
    const [first] = bindContractsProposal(deployment).actions;
    expect(decodeAction(deployment, first!)).toMatchObject({
      kind: "permission",
      change: "grant",
      whereRole: "datasetRegistry",
      whoRole: "dao",
      permission: "governance",
      permissionId: GOVERNANCE_PERMISSION_ID,
    });
  });

  it("leaves unknown what no daotrain ABI reads, sends native value, or calls a stranger's contract, and says why", () => {
    const approve = approveRunProposal(
      deployment,
      {
        runId: id("r"),
        datasetRoot: id("d"),
        gpuSecondsBudget: 1n,
        rewardPerGpuHour: 1n,
        limits: { rounds: 1, replicasPerRound: 1, gpusPerReplica: 1, roundDeadlineSeconds: 60 },
        specUri: "x",
      },
      1n,
    ).actions[1]!;
    const cases = [
      { ...approve, to: address(99) },
      { ...approve, value: 1n },
      { ...approve, data: "0xdeadbeef" as const },
      {
        ...approve,
        data: encodeFunctionData({ abi: runRegistryAbi, functionName: "claim", args: [id("r")] }),
      },
    ];
    expect(cases.map((action) => decodeAction(deployment, action))).toEqual([
      expect.objectContaining({
        kind: "unknown",
        reason: "it calls a contract outside daotrain's deployment",
      }),
      expect.objectContaining({
        kind: "unknown",
        reason: "it sends the chain's native currency from the treasury",
      }),
      expect.objectContaining({
        kind: "unknown",
        reason: "its calldata matches no function of the runRegistry",
      }),
      expect.objectContaining({
        kind: "unknown",
        reason: "it calls a function of the runRegistry that daotrain's proposals never call",
      }),
    ]);
  });
});

describe("proposal metadata for Aragon's apps", () => {
  it("carries title, summary, description and resources, and reads back the same", () => {
    const draft = approveDatasetProposal(deployment.contracts, {
      root: id("d"),
      uri: "s3://data/set",
      license: "MIT",
    });
    const metadata = decodeMetadata(stringToHex(proposalMetadataUri(draft)));
    expect(metadata).toEqual({
      title: draft.title,
      summary: draft.summary,
      description: expect.stringContaining('license "MIT"'),
      resources: [{ name: "Dataset manifest", url: "s3://data/set" }],
    });
  });
});
