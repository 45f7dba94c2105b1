import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_VOTING } from "../../governance/deploy.ts";
import { type Deployment, readDeployment, writeDeployment } from "../../governance/deployment.ts";
import { DeploymentNotFoundError } from "../../governance/errors.ts";
import { InvalidInputError } from "../../spec/errors.ts";

const at = (n: number) => getAddress(`0x${n.toString(16).padStart(40, "0")}`);
const osxNames = [
  "ensRegistry",
  "publicResolver",
  "daoSubdomainRegistrar",
  "pluginSubdomainRegistrar",
  "managementDao",
  "daoRegistry",
  "pluginRepoRegistry",
  "pluginRepoFactory",
  "pluginSetupProcessor",
  "daoFactory",
  "tokenVotingSetup",
  "tokenVotingRepo",
] as const;
const deployment: Deployment = {
  format: "daotrain-deployment/1",
  chainId: 31337,
  rpcUrl: "http://127.0.0.1:8545",
  startBlock: 0,
  osx: Object.fromEntries(osxNames.map((name, i) => [name, at(100 + i)])) as Deployment["osx"],
  dao: {
    address: at(1),
    ensName: "daotrain.dao.eth",
    tokenVoting: at(2),
    token: at(3),
    voting: LOCAL_VOTING,
  },
  contracts: {
    datasetRegistry: at(10),
    clusterRegistry: at(11),
    runRegistry: at(12),
    checkpointRegistry: at(13),
  },
  operator: at(20),
};

describe("the deployment file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "daotrain-deployment-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips through write and read, creating its folder", async () => {
    const path = join(dir, "nested", "deployment.json");
    await writeDeployment(deployment, path);
    expect(await readDeployment(path)).toEqual(deployment);
  });

  it("refuses a file with a wrong field and names the field", async () => {
    const path = join(dir, "broken.json");
    const broken = JSON.parse(JSON.stringify(deployment));
    broken.contracts.runRegistry = "0x1234";
    broken.dao.voting.minDurationSeconds = 60;
    await writeFile(path, JSON.stringify(broken));
    const error = await readDeployment(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.join("\n")).toMatch(/contracts\.runRegistry/);
    expect((error as InvalidInputError).problems.join("\n")).toMatch(/dao\.voting\.minDurationSeconds/);
  });

  it("says how to create the file when it is missing", async () => {
    await expect(readDeployment(join(dir, "absent.json"))).rejects.toBeInstanceOf(DeploymentNotFoundError);
    expect(JSON.parse(await readFile(join(dir, "nested", "deployment.json"), "utf8")).format).toBe(
      "daotrain-deployment/1",
    );
  });
});
