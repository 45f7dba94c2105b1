import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFunctionData, type Hex } from "viem";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ExitCode } from "../../cli/program.ts";
import { clusterRegistryAbi } from "../../contracts/abi/index.ts";
import { getCluster } from "../../governance/reads.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { type DaoFixture, id, startDaoFixture } from "../governance/fixture.ts";
import { daotrain } from "./inProcess.ts";

let dao: DaoFixture;
let dir: string;
let deploymentFile: string;

beforeAll(async () => {
  dao = await startDaoFixture();
  dir = await mkdtemp(join(tmpdir(), "daotrain-cli-"));
  deploymentFile = join(dir, "deployment.json");
  await writeFile(deploymentFile, JSON.stringify(dao.deployment));
});
afterAll(async () => {
  await dao?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("a contributor registers a cluster on-chain by name and the DAO can admit it by that id", async () => {
  const owner = dao.anvil.accounts[6]!;
  const { code, stdout } = await daotrain(
    "cluster",
    "register",
    "--name",
    "acme-h100",
    "--gpus",
    "8",
    "--gpu-product",
    "NVIDIA-H100-80GB-HBM3",
    "--deployment",
    deploymentFile,
    "--key",
    owner.privateKey,
    "--json",
  );
  expect(code).toBe(ExitCode.ok);
  const printed = JSON.parse(stdout) as { clusterId: string };
  expect(printed.clusterId).toBe(clusterIdOf("acme-h100"));
  const cluster = await getCluster(dao.operator, clusterIdOf("acme-h100"));
  expect(cluster).toMatchObject({ status: "registered", gpuCapacity: 8, owner: owner.address });
});

test("a member proposes the admission for the registering owner; naming anyone else is refused before a vote", async () => {
  const { accounts } = dao.anvil;
  const [member, owner, someoneElse] = [accounts[1]!, accounts[6]!, accounts[7]!];
  const clusterId = clusterIdOf("acme-h100");
  const propose = (...args: string[]) =>
    daotrain(
      "propose",
      "cluster",
      "admit",
      clusterId,
      ...args,
      "--deployment",
      deploymentFile,
      "--key",
      member.privateKey,
    );
  const refused = await propose("--owner", someoneElse.address);
  expect(refused.code).toBe(ExitCode.failed);
  expect(refused.stderr).toContain(`was registered by ${owner.address}, not ${someoneElse.address}`);

  const proposed = await propose("--owner", owner.address, "--json");
  expect(proposed.code, proposed.stderr).toBe(ExitCode.ok);
  const { actions } = JSON.parse(proposed.stdout) as { actions: { data: Hex }[] };
  expect(decodeFunctionData({ abi: clusterRegistryAbi, data: actions[0]!.data })).toEqual({
    functionName: "admitCluster",
    args: [clusterId, owner.address],
  });
});

test("rewards show reads the ledger; claiming with nothing owed fails with the reason", async () => {
  const run = id("no such run");
  const account = dao.anvil.accounts[7]!;
  const shown = await daotrain(
    "rewards",
    "show",
    run,
    account.address,
    "--deployment",
    deploymentFile,
    "--json",
  );
  expect(shown.code).toBe(ExitCode.ok);
  expect(JSON.parse(shown.stdout)).toMatchObject({ earned: "0", claimable: "0" });

  const claim = await daotrain(
    "rewards",
    "claim",
    run,
    "--deployment",
    deploymentFile,
    "--key",
    account.privateKey,
  );
  expect(claim.code).toBe(ExitCode.failed);
  expect(claim.stderr).toContain("nothing to claim");
});
