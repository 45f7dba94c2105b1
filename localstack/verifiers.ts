import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { attestationQuorumProposal, grantVerifierProposal } from "../governance/proposals.ts";
import type { LocalDao, PassedProposal } from "./dao.ts";
import { type ManagedProcess, startProcess, waitUntilReady } from "./process.ts";

// Verifiers on the local stack: the DAO appoints them by vote, and each runs `daotrain verifier`
// as a process of its own, with its own key (an anvil account), reading the run store where the
// worker wrote it.

const cli = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

/** The DAO appoints `verifiers` and sets how many attestations a release needs, in one vote. */
export async function appointVerifiers(
  dao: LocalDao,
  verifiers: readonly Address[],
  quorum: number,
): Promise<PassedProposal> {
  return await dao.pass({
    title: `Appoint ${verifiers.length} verifier(s); releases need ${quorum} attestation(s)`,
    summary: `Verifiers ${verifiers.join(", ")} audit every committed round and attest or dispute it.`,
    description:
      "Each verifier redoes every committed round from its record and the run store with its own key and store access; a round the DAO releases must have this many attestations of current verifiers and no open dispute.",
    actions: [
      ...verifiers.flatMap((v) => grantVerifierProposal(dao.deployment, v).actions),
      ...attestationQuorumProposal(dao.deployment.contracts, quorum).actions,
    ],
  });
}

export interface VerifierProcess {
  name: string;
  address: Address;
  /** Its work dir: staged inputs and `audits.jsonl`, the journal of what it concluded. */
  workDir: string;
  metricsUrl: string;
  process: ManagedProcess;
}

export interface StartVerifierOptions {
  name: string;
  key: Hex;
  deploymentFile: string;
  workDir: string;
  pollSeconds?: number;
  retrySeconds?: number;
  /** The chain RPC to use instead of the deployment's. */
  rpcUrl?: string;
}

/** Starts `daotrain verifier` with the key in DAOTRAIN_KEY, and waits until it follows the chain. */
export async function startVerifierProcess(options: StartVerifierOptions): Promise<VerifierProcess> {
  await mkdir(options.workDir, { recursive: true });
  const process_ = startProcess({
    name: options.name,
    command: process.execPath,
    args: [
      cli,
      "verifier",
      "--work-dir",
      options.workDir,
      "--poll-seconds",
      String(options.pollSeconds ?? 1),
      "--retry-seconds",
      String(options.retrySeconds ?? 5),
      "--metrics-port",
      "0",
      ...(options.rpcUrl ? ["--rpc", options.rpcUrl] : []),
    ],
    env: { ...process.env, DAOTRAIN_KEY: options.key, DAOTRAIN_DEPLOYMENT: options.deploymentFile },
    logFile: join(options.workDir, "verifier.log"),
  });
  const metricsUrl = await waitUntilReady(
    options.name,
    async () => {
      const output = process_.recentOutput();
      return output.includes("following commits") ? /metrics on (\S+)/.exec(output)?.[1] : undefined;
    },
    { timeoutMs: 60_000, process: process_ },
  );
  return {
    name: options.name,
    address: privateKeyToAddress(options.key),
    workDir: options.workDir,
    metricsUrl,
    process: process_,
  };
}
