import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DaoFixture, startDaoFixture } from "../governance/fixture.ts";

/** The DAO on anvil, a scratch directory and the deployment file the CLI's verbs read. */
export interface CliChain {
  dao: DaoFixture;
  dir: string;
  deploymentFile: string;
  stop(): Promise<void>;
}

export async function startCliChain(): Promise<CliChain> {
  const dao = await startDaoFixture();
  const dir = await mkdtemp(join(tmpdir(), "daotrain-cli-"));
  const deploymentFile = join(dir, "deployment.json");
  await writeFile(deploymentFile, JSON.stringify(dao.deployment));
  return {
    dao,
    dir,
    deploymentFile,
    async stop() {
      await dao.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `daotrain cluster register` of a small cluster named `name`, signed as `signing` says. */
export function registerClusterArgs(chain: CliChain, name: string, ...signing: string[]): string[] {
  return [
    "cluster",
    "register",
    "--name",
    name,
    "--gpus",
    "2",
    "--gpu-product",
    "NVIDIA-T4",
    "--deployment",
    chain.deploymentFile,
    ...signing,
  ];
}
