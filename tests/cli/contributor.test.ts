import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ExitCode } from "../../cli/program.ts";
import { writeKeystore } from "../../governance/keys.ts";
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

test("a contributor registers a cluster on-chain by name, signing from a keystore, and the DAO can admit it by that id", async () => {
  const owner = dao.anvil.accounts[6]!;
  const keystore = join(dir, "owner.json");
  const passwordFile = join(dir, "owner.password");
  await writeFile(passwordFile, "owner password\n");
  await writeKeystore(keystore, owner.privateKey, "owner password", { scryptN: 1024 });
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
    "--keystore",
    keystore,
    "--password-file",
    passwordFile,
    "--json",
  );
  expect(code).toBe(ExitCode.ok);
  const printed = JSON.parse(stdout) as { clusterId: string };
  expect(printed.clusterId).toBe(clusterIdOf("acme-h100"));
  const cluster = await getCluster(dao.operator, clusterIdOf("acme-h100"));
  expect(cluster).toMatchObject({ status: "registered", gpuCapacity: 8, owner: owner.address });
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

  process.env.DAOTRAIN_KEY = account.privateKey;
  const claim = await daotrain("rewards", "claim", run, "--deployment", deploymentFile).finally(() => {
    delete process.env.DAOTRAIN_KEY;
  });
  expect(claim.code).toBe(ExitCode.failed);
  expect(claim.stderr).toContain("nothing to claim");
});
