import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { getAddress } from "viem";
import { z } from "zod";
import { parseWith } from "../spec/errors.ts";
import { DeploymentNotFoundError } from "./errors.ts";

const Address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address")
  .transform((s) => getAddress(s));

/** TokenVoting v1.0.0 settings; ratios are parts per million, as the plugin stores them. */
export const VotingSettings = z
  .object({
    votingMode: z.enum(["Standard", "EarlyExecution", "VoteReplacement"]),
    supportThreshold: z.number().int().min(0).max(999_999),
    minParticipation: z.number().int().min(0).max(1_000_000),
    minDurationSeconds: z.number().int().min(3600),
    minProposerVotingPower: z.string().regex(/^[0-9]+$/, "must be a whole number of token base units"),
  })
  .strict();
export type VotingSettings = z.infer<typeof VotingSettings>;

/** What `daotrain dao deploy` writes and every other part (CLI, worker) reads. */
export const Deployment = z
  .object({
    format: z.literal("daotrain-deployment/1"),
    chainId: z.number().int().positive(),
    rpcUrl: z.string().url(),
    /** The first block worth scanning for daotrain events. */
    startBlock: z.number().int().min(0),
    osx: z
      .object({
        ensRegistry: Address,
        publicResolver: Address,
        daoSubdomainRegistrar: Address,
        pluginSubdomainRegistrar: Address,
        managementDao: Address,
        daoRegistry: Address,
        pluginRepoRegistry: Address,
        pluginRepoFactory: Address,
        pluginSetupProcessor: Address,
        daoFactory: Address,
        tokenVotingSetup: Address,
        tokenVotingRepo: Address,
      })
      .strict(),
    dao: z
      .object({
        address: Address,
        ensName: z.string(),
        tokenVoting: Address,
        token: Address,
        voting: VotingSettings,
      })
      .strict(),
    contracts: z
      .object({
        datasetRegistry: Address,
        clusterRegistry: Address,
        runRegistry: Address,
        checkpointRegistry: Address,
      })
      .strict(),
    operator: Address,
  })
  .strict();
export type Deployment = z.infer<typeof Deployment>;

export const DEFAULT_DEPLOYMENT_FILE = ".daotrain/deployment.json";

/** The deployment file to use: an explicit path, else DAOTRAIN_DEPLOYMENT, else the default. */
export function deploymentPath(explicit?: string): string {
  return resolve(explicit ?? process.env.DAOTRAIN_DEPLOYMENT ?? DEFAULT_DEPLOYMENT_FILE);
}

export async function readDeployment(path: string = deploymentPath()): Promise<Deployment> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new DeploymentNotFoundError(path);
    throw error;
  }
  return parseWith(Deployment, JSON.parse(text), `deployment file ${path}`);
}

/** Writes through a temporary name so a reader never sees half a file. */
export async function writeDeployment(
  deployment: Deployment,
  path: string = deploymentPath(),
): Promise<void> {
  const checked = parseWith(Deployment, deployment, "deployment");
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(checked, null, 2)}\n`);
  await rename(temporary, path);
}
