import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeFunctionData, type Hex } from "viem";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ExitCode } from "../../cli/program.ts";
import { clusterRegistryAbi } from "../../contracts/abi/index.ts";
import { writeKeystore } from "../../governance/keys.ts";
import { getCluster } from "../../governance/reads.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { id } from "../governance/fixture.ts";
import { type CliChain, registerClusterArgs, startCliChain } from "./chainFixture.ts";
import { daotrain, daotrainWithEnv } from "./inProcess.ts";

let chain: CliChain;
beforeAll(async () => {
  chain = await startCliChain();
});
afterAll(() => chain?.stop());

test("a contributor registers a cluster on-chain by name, signing from a keystore, and the DAO can admit it by that id", async () => {
  const owner = chain.dao.anvil.accounts[6]!;
  const keystore = join(chain.dir, "owner.json");
  const passwordFile = join(chain.dir, "owner.password");
  await writeFile(passwordFile, "owner password\n");
  await writeKeystore(keystore, owner.privateKey, "owner password", { scryptN: 1024 });
  const { code, stdout } = await daotrain(
    ...registerClusterArgs(
      chain,
      "acme-h100",
      "--keystore",
      keystore,
      "--password-file",
      passwordFile,
      "--json",
    ),
  );
  expect(code).toBe(ExitCode.ok);
  const printed = JSON.parse(stdout) as { clusterId: string };
  expect(printed.clusterId).toBe(clusterIdOf("acme-h100"));
  const cluster = await getCluster(chain.dao.operator, clusterIdOf("acme-h100"));
  expect(cluster).toMatchObject({ status: "registered", gpuCapacity: 2, owner: owner.address });
});

test("a member proposes the admission for the registering owner; naming anyone else is refused before a vote", async () => {
  const { accounts } = chain.dao.anvil;
  const [member, owner, someoneElse] = [accounts[1]!, accounts[6]!, accounts[7]!];
  const clusterId = clusterIdOf("acme-h100");
  const propose = (...args: string[]) =>
    daotrainWithEnv(
      { DAOTRAIN_KEY: member.privateKey },
      "propose",
      "cluster",
      "admit",
      clusterId,
      ...args,
      "--deployment",
      chain.deploymentFile,
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
  const account = chain.dao.anvil.accounts[7]!;
  const shown = await daotrain(
    "rewards",
    "show",
    run,
    account.address,
    "--deployment",
    chain.deploymentFile,
    "--json",
  );
  expect(shown.code).toBe(ExitCode.ok);
  expect(JSON.parse(shown.stdout)).toMatchObject({ earned: "0", claimable: "0" });

  process.env.DAOTRAIN_KEY = account.privateKey;
  const claim = await daotrain("rewards", "claim", run, "--deployment", chain.deploymentFile).finally(() => {
    delete process.env.DAOTRAIN_KEY;
  });
  expect(claim.code).toBe(ExitCode.failed);
  expect(claim.stderr).toContain("nothing to claim");
});
