import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from "@temporalio/workflow";
import type { RunSpec } from "../spec/runSpec.ts";
import type { Activities } from "./activities.ts";
import { budgetAllowsRound } from "./planning.ts";
import { chainRetry, clusterRetry } from "./retry.ts";
import { type RoundOptions, runRound } from "./round.ts";
import { cancelSignal, pauseSignal, resumeSignal, statusQuery } from "./signals.ts";
import type { CancelSource, CheckpointRef, Hex, RoundSummary, RunState, RunStatus } from "./types.ts";

export interface RunOptions extends RoundOptions {
  /** Start a fresh history after this many rounds (or earlier, when Temporal suggests it). */
  roundsPerExecution: number;
  /** Round summaries kept in the status (and carried through continueAsNew). */
  recentRounds: number;
}

export const defaultRunOptions: RunOptions = {
  replicaDeadlineSeconds: 6 * 3600,
  maxAttemptsPerRound: 3,
  heartbeatSeconds: 30,
  noCapacityRetrySeconds: 60,
  roundsPerExecution: 100,
  recentRounds: 5,
};

/**
 * What one execution hands the next through continueAsNew: small and explicit. Rounds count from
 * 1; the initial checkpoint is round 0 and is never committed.
 */
export interface RunCarry {
  nextRound: number;
  global: CheckpointRef;
  gpuSecondsUsed: number;
  lastRoundCost: number;
  strikes: Record<string, number>;
  paused: boolean;
  recent: RoundSummary[];
}

export interface TrainingRunInput {
  runId: Hex;
  spec: RunSpec;
  options?: Partial<RunOptions>;
  carry?: RunCarry;
}

const quick = proxyActivities<Activities>({ startToCloseTimeout: "30 seconds", retry: clusterRetry });
const chain = proxyActivities<Activities>({ startToCloseTimeout: "45 seconds", retry: chainRetry });

/**
 * A DAO-approved run: rounds until the spec's rounds or GPU-hour budget are done, pausable
 * and cancellable at any time, then the run is closed on-chain so the unspent escrow returns
 * to the DAO; a round that cannot reach its quorum closes it as failed, with the reason, and
 * fails the workflow. Workflow id: `run-<runId>` (spec/runSpec.ts `runWorkflowId`).
 */
export async function trainingRun(input: TrainingRunInput): Promise<RunStatus> {
  const { runId, spec } = input;
  const options: RunOptions = { ...defaultRunOptions, ...input.options };
  const gpuSecondsBudget = Math.round(spec.gpuHourBudget * 3600);
  let cancel: { source: CancelSource; reason: string } | undefined;
  let roundScope: CancellationScope | undefined;
  let pauseRequested = input.carry?.paused ?? false;
  const status: RunStatus = {
    runId,
    name: spec.name,
    state: pauseRequested ? "paused" : "running",
    reason: undefined,
    rounds: spec.rounds,
    committedRounds: (input.carry?.nextRound ?? 1) - 1,
    gpuSecondsUsed: input.carry?.gpuSecondsUsed ?? 0,
    gpuSecondsBudget,
    current: undefined,
    recent: input.carry?.recent ?? [],
  };
  setHandler(statusQuery, () => status);
  setHandler(pauseSignal, () => {
    pauseRequested = true;
  });
  setHandler(resumeSignal, () => {
    pauseRequested = false;
  });
  setHandler(cancelSignal, (request) => {
    cancel ??= request;
    roundScope?.cancel();
  });
  const moveTo = async (state: RunState, reason?: string) => {
    const from = status.state;
    status.state = state;
    status.reason = reason;
    if (from !== state) await quick.reportRunState({ runId, from, to: state });
  };

  let carry: RunCarry = input.carry ?? (await startRun(runId, spec));
  let stopReason: string | undefined;
  let roundsThisExecution = 0;
  while (carry.nextRound <= spec.rounds && !cancel) {
    if (pauseRequested) {
      await moveTo("paused");
      await condition(() => !pauseRequested || cancel !== undefined);
      if (cancel) break;
      await moveTo("running");
    }
    if (!budgetAllowsRound(carry.gpuSecondsUsed, gpuSecondsBudget, carry.lastRoundCost)) {
      stopReason = "budget";
      break;
    }
    if (roundsThisExecution >= options.roundsPerExecution || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof trainingRun>({
        runId,
        spec,
        options: input.options,
        carry: { ...carry, paused: pauseRequested },
      });
    }
    const round = carry.nextRound;
    roundScope = new CancellationScope();
    let outcome: Awaited<ReturnType<typeof runRound>>;
    try {
      outcome = await roundScope.run(() =>
        runRound({
          runId,
          spec,
          round,
          parent: carry.global,
          strikes: carry.strikes,
          options,
          onProgress: (attempt, replicas) => {
            status.current = { round, attempt, replicas };
          },
        }),
      );
    } catch (error) {
      if (cancel && isCancellation(error)) break;
      throw error;
    } finally {
      roundScope = undefined;
    }
    for (const offender of outcome.offenders) carry.strikes[offender] = (carry.strikes[offender] ?? 0) + 1;
    if (!outcome.ok) {
      await CancellationScope.nonCancellable(() => chain.closeRun({ runId, failureReason: outcome.reason }));
      await moveTo("failed", outcome.reason);
      throw ApplicationFailure.nonRetryable(outcome.reason, "RoundQuorumError");
    }
    carry = advance(carry, outcome.summary, options.recentRounds);
    roundsThisExecution += 1;
    status.committedRounds = carry.nextRound - 1;
    status.gpuSecondsUsed = carry.gpuSecondsUsed;
    status.recent = carry.recent;
    status.current = undefined;
  }

  status.current = undefined;
  await CancellationScope.nonCancellable(() => chain.closeRun({ runId }));
  if (cancel) await moveTo("cancelled", `${cancel.source}: ${cancel.reason}`);
  else await moveTo("completed", stopReason ?? "rounds");
  return status;
}

async function startRun(runId: Hex, spec: RunSpec): Promise<RunCarry> {
  await quick.reportRunState({ runId, from: undefined, to: "running" });
  const global = await quick.prepareRun({ runId, spec });
  return {
    nextRound: 1,
    global,
    gpuSecondsUsed: 0,
    lastRoundCost: 0,
    strikes: {},
    paused: false,
    recent: [],
  };
}

function advance(carry: RunCarry, summary: RoundSummary, keep: number): RunCarry {
  const cost = summary.credits.reduce((sum, c) => sum + c.gpuSeconds, 0);
  return {
    ...carry,
    nextRound: summary.round + 1,
    global: { uri: summary.manifestUri, root: summary.root },
    gpuSecondsUsed: carry.gpuSecondsUsed + cost,
    lastRoundCost: cost,
    recent: [...carry.recent.map(withoutAcceptedRows), summary].slice(-keep),
  };
}

/** Replica rows an older round keeps in full in the status; past this, its accepted ones go. */
const FULL_ROWS_UP_TO = 256;

/**
 * An older round's summary as the status keeps it. The latest round keeps every row; a large
 * older one keeps the replicas with something to say (failed, lost, rejected). At 6,400 replicas
 * a round's rows are 0.5 MiB: five of them would break Temporal's 2 MiB payload limit in the
 * status, the run's result and the continueAsNew input.
 */
function withoutAcceptedRows(summary: RoundSummary): RoundSummary {
  if (summary.replicas.length <= FULL_ROWS_UP_TO) return summary;
  return { ...summary, replicas: summary.replicas.filter((r) => r.phase !== "accepted") };
}
