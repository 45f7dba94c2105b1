import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { WorkflowNotFoundError } from "@temporalio/client";
import type { Address, Hex } from "viem";
import { packDataset } from "../datasets/index.ts";
import { byteTokenizer } from "../datasets/tokenizer.ts";
import {
  chainCheckpoint,
  downloadRelease as downloadPublishedRelease,
  type ReleaseDownloadResult,
  releasedRoundNumbers,
  releaseFacts,
} from "../download/index.ts";
import type { Governance } from "../governance/chain.ts";
import { checkpointCommits } from "../governance/history.ts";
import {
  admitClusterProposal,
  approveDatasetProposal,
  approveRunProposal,
  releaseCheckpointProposal,
  runApprovalOf,
} from "../governance/proposals.ts";
import {
  type ComputeCredit,
  computeCredits,
  escrowFor,
  getCheckpoint,
  getLedger,
  tokenBalance,
} from "../governance/reads.ts";
import { claimRewards, registerCluster } from "../governance/writes.ts";
import { onboardContributor } from "../k8s/contributor/onboard.ts";
import { continueTokens } from "../model/generate.ts";
import { loadReleasedModel } from "../release/load.ts";
import { type RunSpec, runWorkflowId } from "../spec/runSpec.ts";
import { runSpecDataUri } from "../spec/specDocument.ts";
import { type ClusterEntry, clusterIdOf } from "../workers/clusterDirectory.ts";
import { releaseWorkflowId, statusQuery } from "../workflows/signals.ts";
import type { RunStatus } from "../workflows/types.ts";
import type { LocalDao, PassedProposal } from "./dao.ts";
import { startCluster } from "./kubernetes.ts";
import { startPodRunner } from "./podRunner.ts";
import type { LocalStack } from "./stack.ts";

// The steps of daotrain's story on a local stack, each what a member, a contributor or a
// downloader would do, in the order DESIGN.md tells it. `daotrain demo` runs them in sequence.

export interface ApprovedDataset {
  root: Hex;
  uri: string;
  shards: number;
  proposal: PassedProposal;
}

/** A member packs a corpus into shards and the DAO approves the dataset by vote. */
export async function approveDataset(
  stack: LocalStack,
  corpus: string,
  license: string,
  shardTokens: number,
): Promise<ApprovedDataset> {
  const dir = join(stack.workDir, "dataset");
  const dataset = await packDataset(corpus, dir, { shardTokens });
  const uri = pathToFileURL(dir).href;
  const root = dataset.root as Hex;
  const proposal = await stack.dao.pass(
    approveDatasetProposal(stack.dao.deployment.contracts, { root, uri, license }),
  );
  return { root, uri, shards: dataset.shards.length, proposal };
}

export interface ContributorCluster {
  name: string;
  gpus: number;
  gpuProduct: string;
}

export interface Contributor extends ContributorCluster {
  clusterId: Hex;
  owner: Governance;
  ownerAddress: Address;
}

/** The contributor registers its cluster on-chain and the DAO admits it by vote. */
async function admitContributor(
  stack: LocalStack,
  index: number,
  cluster: ContributorCluster,
): Promise<Contributor> {
  const owner = stack.dao.others[index];
  if (!owner?.wallet) throw new Error(`no spare anvil account for contributor ${cluster.name}`);
  const clusterId = clusterIdOf(cluster.name);
  await registerCluster(owner, {
    clusterId,
    gpuCapacity: cluster.gpus,
    gpuProduct: cluster.gpuProduct,
    metadata: `daotrain contributor ${cluster.name}`,
  });
  const ownerAddress = owner.wallet.account.address;
  await stack.dao.pass(
    admitClusterProposal(stack.dao.deployment.contracts, {
      clusterId,
      owner: ownerAddress,
      gpuCapacity: cluster.gpus,
    }),
  );
  return { ...cluster, clusterId, owner, ownerAddress };
}

/** Contributors on the local executor: each replica a child process on this machine. */
export async function onboardLocalContributors(
  stack: LocalStack,
  clusters: readonly ContributorCluster[],
): Promise<Contributor[]> {
  const contributors: Contributor[] = [];
  for (const [index, cluster] of clusters.entries())
    contributors.push(await admitContributor(stack, index, cluster));
  await stack.setClusters(
    clusters.map((c) => ({
      name: c.name,
      local: { workDir: join(stack.workDir, "executors", c.name), gpus: c.gpus, gpuProduct: c.gpuProduct },
    })),
  );
  return contributors;
}

/**
 * Contributors on simulated Kubernetes clusters (a real control plane each, KWOK nodes, the pod
 * runner playing kubelet): each applies the contributor bundle as a cluster admin would, hands
 * the orchestrator the ServiceAccount kubeconfig, and is admitted by vote.
 */
export async function onboardSimulatedContributors(
  stack: LocalStack,
  clusters: readonly ContributorCluster[],
  projectRoot: string,
): Promise<Contributor[]> {
  const contributors: Contributor[] = [];
  const entries: ClusterEntry[] = [];
  await mkdir(join(stack.workDir, "kubeconfigs"), { recursive: true, mode: 0o700 });
  for (const [index, cluster] of clusters.entries()) {
    const k8s = await startCluster({
      name: cluster.name,
      nodes: [{ name: `${cluster.name}-gpu-0`, gpus: cluster.gpus, gpuProduct: cluster.gpuProduct }],
      podRunner: true,
    });
    stack.adopt(() => k8s.stop());
    const runner = await startPodRunner({ kubeConfig: k8s.kubeConfig, cwd: projectRoot });
    stack.adopt(() => runner.stop());
    const onboarded = await onboardContributor(k8s.kubeconfig, { gpus: cluster.gpus });
    const kubeconfig = join(stack.workDir, "kubeconfigs", `${cluster.name}.yaml`);
    await writeFile(kubeconfig, onboarded.serviceAccountKubeconfig, { mode: 0o600 });
    entries.push({ name: cluster.name, kubernetes: { kubeconfig, namespace: onboarded.namespace } });
    contributors.push(await admitContributor(stack, index, cluster));
  }
  await stack.setClusters(entries);
  return contributors;
}

/**
 * A member proposes the run, its spec inline (canonical JSON, as `daotrain propose run` publishes
 * a small spec); the vote approves it and moves its budget into escrow.
 */
export async function approveRun(
  dao: LocalDao,
  spec: RunSpec,
): Promise<{ runId: Hex; escrow: bigint; proposal: PassedProposal }> {
  const run = runApprovalOf(spec, runSpecDataUri(spec));
  const escrow = await escrowFor(dao.operator, run.gpuSecondsBudget, run.rewardPerGpuHour);
  const proposal = await dao.pass(approveRunProposal(dao.deployment, run, escrow));
  return { runId: run.runId, escrow, proposal };
}

/** Polls until the governance watcher has started the workflow, then returns its handle. */
async function awaitWorkflow(stack: LocalStack, workflowId: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  const handle = stack.client.workflow.getHandle(workflowId);
  for (;;) {
    try {
      await handle.describe();
      return handle;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError) || Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

/**
 * Follows the run the DAO approved until it ends, reporting its live status as it changes.
 * Aborting stops following (the run itself goes on in Temporal).
 */
export async function followRun(
  stack: LocalStack,
  runId: Hex,
  onStatus: (status: RunStatus) => void,
  signal?: AbortSignal,
): Promise<RunStatus> {
  const handle = await awaitWorkflow(stack, runWorkflowId(runId));
  // The abort also cancels the long poll, so closing the connection afterwards leaves no call behind.
  const follow = <T>(call: () => Promise<T>) =>
    signal ? stack.client.withAbortSignal(signal, call) : call();
  const result = follow(() => handle.result() as Promise<RunStatus>);
  let finished = false;
  result.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );
  while (!finished) {
    signal?.throwIfAborted();
    await Promise.race([result, sleep(1_000, undefined, { signal })]).catch(() => {});
    if (!finished && !signal?.aborted) onStatus(await follow(() => handle.query(statusQuery)));
  }
  return await result;
}

/** The DAO releases a committed round by vote; the release workflow publishes it. */
export async function releaseCheckpoint(
  stack: LocalStack,
  runId: Hex,
  round: number,
): Promise<{ proposal: PassedProposal }> {
  const proposal = await stack.dao.pass(
    releaseCheckpointProposal(stack.dao.deployment.contracts, runId, BigInt(round)),
  );
  await (await awaitWorkflow(stack, releaseWorkflowId(runId, round))).result();
  return { proposal };
}

/**
 * Anyone downloads the released round from where the chain says it was published (the Hugging
 * Face layout), every file proven against the chain.
 */
export async function downloadRelease(
  stack: LocalStack,
  runId: Hex,
  round: number,
  out: string,
): Promise<ReleaseDownloadResult> {
  const reader = stack.dao.operator;
  return await downloadPublishedRelease({
    checkpoint: await chainCheckpoint(reader, runId, round),
    releasedRounds: () => releasedRoundNumbers(reader, runId),
    facts: () => releaseFacts(reader, runId, round),
    out,
  });
}

export interface Sample {
  prompt: string;
  continuation: string;
  temperature: number;
  seed: number;
}

/** The downloader tries the model it verified: continues a prompt, as `daotrain sample` does. */
export async function sampleRelease(dir: string, prompt: string, tokens = 96): Promise<Sample> {
  const { spec, values } = await loadReleasedModel(dir);
  const options = { tokens, temperature: 0.7, seed: 0 };
  const continuation = await continueTokens(values, spec.model, byteTokenizer.encode(prompt), options);
  return {
    prompt,
    continuation: byteTokenizer.decode(continuation),
    temperature: options.temperature,
    seed: options.seed,
  };
}

export interface Claim {
  name: string;
  owner: Address;
  earned: bigint;
  txHash: Hex | undefined;
  balance: bigint;
}

/** Each contributor claims what the compute ledger owes it from the run's escrow. */
export async function claimAll(runId: Hex, contributors: readonly Contributor[]): Promise<Claim[]> {
  const claims: Claim[] = [];
  for (const contributor of contributors) {
    const ledger = await getLedger(contributor.owner, runId, contributor.ownerAddress);
    const txHash = ledger.claimable > 0n ? (await claimRewards(contributor.owner, runId)).txHash : undefined;
    claims.push({
      name: contributor.name,
      owner: contributor.ownerAddress,
      earned: ledger.earned,
      txHash,
      balance: await tokenBalance(contributor.owner, contributor.ownerAddress),
    });
  }
  return claims;
}

export interface CommittedRound {
  round: number;
  root: Hex;
  /** Where the checkpoint's manifest lives, as committed. */
  manifestUri: string;
  loss: number;
  valLoss: number;
  released: boolean;
  commitTx: Hex | undefined;
  /** Verified GPU-seconds the ledger recorded for the round, all clusters together. */
  gpuSeconds: number;
}

export interface ChainRecord {
  rounds: CommittedRound[];
  credits: ComputeCredit[];
}

/** What the chain says about a run, round by round: the summary's source of truth. */
export async function chainRecord(stack: LocalStack, runId: Hex): Promise<ChainRecord> {
  const reader = stack.dao.operator;
  const [commits, credits] = await Promise.all([
    checkpointCommits(reader, runId),
    computeCredits(reader, runId),
  ]);
  const committed: CommittedRound[] = [];
  for (const commit of commits) {
    const checkpoint = await getCheckpoint(reader, runId, BigInt(commit.round));
    if (!checkpoint.committed)
      throw new Error(`round ${commit.round} has a commit event but no checkpoint on-chain`);
    committed.push({
      round: commit.round,
      root: checkpoint.root,
      manifestUri: checkpoint.manifestUri,
      loss: checkpoint.metrics.loss,
      valLoss: checkpoint.metrics.valLoss,
      released: checkpoint.released,
      commitTx: commit.txHash,
      gpuSeconds: credits.filter((c) => c.round === commit.round).reduce((sum, c) => sum + c.gpuSeconds, 0),
    });
  }
  return { rounds: committed, credits };
}
