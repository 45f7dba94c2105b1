import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ExitCode } from "../../cli/program.ts";
import { writeKeystore } from "../../governance/keys.ts";
import { getCluster } from "../../governance/reads.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { id } from "../governance/fixture.ts";
import { type CliChain, registerClusterArgs, startCliChain } from "./chainFixture.ts";
import { daotrain } from "./inProcess.ts";

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
