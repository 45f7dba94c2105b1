import type { Address, Hex } from "viem";
import { approvedRunIds, checkpointCommits } from "../../../governance/history.ts";
import {
  type ComputeCredit,
  computeCredits,
  getCheckpoint,
  getLedger,
  getRun,
  type RunView,
  runFailureReason,
} from "../../../governance/reads.ts";
import type { ReplicaStatus } from "../../../workflows/types.ts";
import type { ReplicaView, RoundView, RunDetail, RunList, SpecSummary } from "../../api.ts";
import { type LiveRun, liveRun } from "../liveStatus.ts";
import { specSummary } from "../publicFiles.ts";
import type { ConsoleSources } from "../sources.ts";

export interface RunBasics {
  run: RunView;
  spec: SpecSummary;
  /** The spec's name, or the start of the run id when the spec cannot be read. */
  name: string;
}

export async function runBasics(sources: ConsoleSources, runId: Hex): Promise<RunBasics> {
  const run = await getRun(sources.governance, runId);
  const spec = await specSummary(run.specUri, runId, sources.storeOptions);
  return { run, spec, name: spec.readable ? spec.name : `run ${runId.slice(0, 10)}…` };
}

const escrowOf = (run: RunView) => ({
  funded: String(run.escrow.funded),
  credited: String(run.escrow.credited),
  paid: String(run.escrow.paid),
  refunded: String(run.escrow.refunded),
  balance: String(run.escrow.balance),
});

/** Every run the DAO approved, newest first, as the chain records it. */
export async function runsView(sources: ConsoleSources): Promise<RunList> {
  const ids = (await approvedRunIds(sources.governance)).toReversed();
  const runs = await Promise.all(
    ids.map(async (runId) => {
      const [{ run, spec, name }, commits] = await Promise.all([
        runBasics(sources, runId),
        checkpointCommits(sources.governance, runId),
      ]);
      return {
        runId,
        name,
        status: run.status,
        rounds: spec.readable ? spec.rounds : commits.length,
        committedRounds: commits.length,
        gpuSecondsBudget: Number(run.gpuSecondsBudget),
        gpuSecondsRecorded: Number(run.gpuSecondsRecorded),
        escrow: escrowOf(run),
      };
    }),
  );
  return { runs };
}

const replicaView = (r: ReplicaStatus): ReplicaView => ({
  replica: r.replica,
  attempt: r.attempt,
  cluster: r.cluster,
  phase: r.phase,
  ...(r.reason === undefined ? {} : { reason: r.reason }),
  ...(r.gpuSeconds === undefined ? {} : { gpuSeconds: r.gpuSeconds }),
});

async function roundsOf(
  sources: ConsoleSources,
  runId: Hex,
  credits: ComputeCredit[],
  live: LiveRun,
): Promise<RoundView[]> {
  const commits = await checkpointCommits(sources.governance, runId);
  const recent = live.available ? live.status.recent : [];
  return Promise.all(
    commits.map(async (commit) => {
      const checkpoint = await getCheckpoint(sources.governance, runId, BigInt(commit.round));
      const summary = recent.find((r) => r.round === commit.round);
      return {
        round: commit.round,
        root: commit.root,
        loss: checkpoint.committed ? checkpoint.metrics.loss : Number.NaN,
        valLoss: checkpoint.committed ? checkpoint.metrics.valLoss : Number.NaN,
        commitTx: commit.txHash,
        released: checkpoint.committed && checkpoint.released,
        gpuSeconds: credits.filter((c) => c.round === commit.round).reduce((sum, c) => sum + c.gpuSeconds, 0),
        replicas: summary ? summary.replicas.map(replicaView) : null,
      };
    }),
  );
}

/** What each contributor did and is owed in a run: verified GPU-seconds and the ledger's amounts. */
export async function contributorShares(sources: ConsoleSources, runId: Hex, credits: ComputeCredit[]) {
  const contributors = [...new Set(credits.map((c) => c.contributor))] as Address[];
  return Promise.all(
    contributors.map(async (contributor) => {
      const ledger = await getLedger(sources.governance, runId, contributor);
      return {
        contributor,
        gpuSeconds: credits
          .filter((c) => c.contributor === contributor)
          .reduce((s, c) => s + c.gpuSeconds, 0),
        earned: String(ledger.earned),
        claimed: String(ledger.claimed),
        claimable: String(ledger.claimable),
      };
    }),
  );
}

function liveView(live: LiveRun): RunDetail["live"] {
  if (!live.available) return live;
  const { state, reason, current } = live.status;
  return {
    available: true,
    state,
    ...(reason === undefined ? {} : { reason }),
    current: current
      ? { round: current.round, attempt: current.attempt, replicas: current.replicas.map(replicaView) }
      : null,
  };
}

export async function runView(sources: ConsoleSources, runId: Hex): Promise<RunDetail | undefined> {
  const [basics, live, credits, failureReason] = await Promise.all([
    runBasics(sources, runId),
    liveRun(sources, runId),
    computeCredits(sources.governance, runId),
    runFailureReason(sources.governance, runId),
  ]);
  const { run, spec } = basics;
  if (run.status === "none") return undefined;
  const [rounds, contributors] = await Promise.all([
    roundsOf(sources, runId, credits, live),
    contributorShares(sources, runId, credits),
  ]);
  return {
    runId,
    status: run.status,
    ...(failureReason === undefined ? {} : { failureReason }),
    datasetRoot: run.datasetRoot,
    gpuSecondsBudget: Number(run.gpuSecondsBudget),
    gpuSecondsRecorded: Number(run.gpuSecondsRecorded),
    rewardPerGpuHour: String(run.rewardPerGpuHour),
    escrow: escrowOf(run),
    spec,
    live: liveView(live),
    rounds,
    contributors,
  };
}
