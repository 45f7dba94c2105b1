import {
  ActivityFailure,
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
import { reactionTo } from "./failures.ts";
import { budgetAllowsRound, replicaDeadlineSeconds, worstRoundGpuSeconds } from "./planning.ts";
import { chainRetry, clusterRetry, specRetry } from "./retry.ts";
import { type RoundOptions, runRound } from "./round.ts";
import { cancelSignal, pauseSignal, resumeSignal, statusQuery } from "./signals.ts";
import {
  type CancelSource,
  type CheckpointRef,
  DETAILED_ROUND_REPLICAS,
  type Hex,
  type RefusalCause,
  type RoundSummary,
  type RunClosing,
  type RunState,
  type RunStatus,
} from "./types.ts";

export interface RunOptions extends RoundOptions {
  /** Start a fresh history after this many rounds (or earlier, when Temporal suggests it). */
  roundsPerExecution: number;
  /** Round summaries kept in the status (and carried through continueAsNew). */
  recentRounds: number;
  /** While paused, how often the run reads the chain to notice that the DAO cancelled it. */
  pausedChainCheckSeconds: number;
}

export const defaultRunOptions: RunOptions = {
  clusterSilenceSeconds: 120,
  maxAttemptsPerRound: 3,
  heartbeatSeconds: 30,
  noCapacityRetrySeconds: 60,
  roundsPerExecution: 100,
  recentRounds: 5,
  pausedChainCheckSeconds: 600,
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
  /**
   * The spec as the DAO approved it. The governance watcher passes `specUri` instead, and the
   * run fetches and verifies the spec itself, so that a spec that cannot be read is this run's
   * refusal, visible in its status, rather than the watcher's problem.
   */
  spec?: RunSpec;
  specUri?: string;
  options?: Partial<RunOptions>;
  carry?: RunCarry;
}

const quick = proxyActivities<Activities>({ startToCloseTimeout: "30 seconds", retry: clusterRetry });
const chain = proxyActivities<Activities>({ startToCloseTimeout: "45 seconds", retry: chainRetry });
const specs = proxyActivities<Activities>({ startToCloseTimeout: "1 minute", retry: specRetry });

/**
 * A DAO-approved run: its spec fetched and verified, then rounds until the spec's rounds or
 * GPU-hour budget are done, pausable and cancellable at any time; then the run is closed
 * on-chain so the unspent escrow returns to the DAO. A run that cannot start (spec unreadable,
 * invalid, not the approved one, or unable to pay for one round) or whose step fails for good
 * (a round short of its quorum, a contract revert no retry can fix) is closed as failed with
 * the reason, and the workflow fails with it. A failure the DAO can undo (the operator's
 * permission revoked, a cluster suspended mid-round) or a step whose retries ran out pauses the
 * run with the reason instead. Workflow id: `run-<runId>` (spec/workflowIds.ts `runWorkflowId`).
 */
export async function trainingRun(input: TrainingRunInput): Promise<RunStatus> {
  const { runId } = input;
  const options: RunOptions = { ...defaultRunOptions, ...input.options };
  let cancel: { source: CancelSource; reason: string } | undefined;
  let roundScope: CancellationScope | undefined;
  let pauseRequested = input.carry?.paused ?? false;
  let pauseReason: string | undefined;
  // A run continued as new was reported by the execution before; a fresh one not yet.
  let stateReported = input.carry !== undefined;
  const status: RunStatus = {
    runId,
    name: input.spec?.name ?? "",
    state: pauseRequested ? "paused" : "running",
    reason: undefined,
    rounds: input.spec?.rounds ?? 0,
    committedRounds: (input.carry?.nextRound ?? 1) - 1,
    gpuSecondsUsed: input.carry?.gpuSecondsUsed ?? 0,
    gpuSecondsBudget: 0,
    current: undefined,
    recent: input.carry?.recent ?? [],
  };
  setHandler(statusQuery, () => status);
  setHandler(pauseSignal, () => {
    pauseRequested = true;
  });
  setHandler(resumeSignal, () => {
    pauseRequested = false;
    pauseReason = undefined;
  });
  setHandler(cancelSignal, (request) => {
    cancel ??= request;
    roundScope?.cancel();
  });
  const moveTo = async (state: RunState, reason?: string) => {
    const from = stateReported ? status.state : undefined;
    status.state = state;
    status.reason = reason;
    if (from !== state) await quick.reportRunState({ runId, from, to: state });
    stateReported = true;
  };
  /**
   * Waits for `resume` or a cancel. A DAO cancel whose signal never came (the watcher was
   * down) is noticed on the chain, so a paused run never outlives its approval.
   */
  const waitForResume = async (): Promise<"resumed" | "stopped"> => {
    for (;;) {
      const woken = await condition(
        () => !pauseRequested || cancel !== undefined,
        options.pausedChainCheckSeconds * 1000,
      );
      if (cancel) return "stopped";
      if (woken) return "resumed";
      if ((await chain.readRunStatus({ runId })).status !== "approved") return "stopped";
    }
  };
  /** Closes the run on-chain; a failure the DAO can undo pauses until resumed, then closes again. */
  const closeOnChain = async (closing: RunClosing) => {
    for (;;) {
      try {
        await CancellationScope.nonCancellable(() => chain.closeRun({ runId, closing }));
        return;
      } catch (error) {
        const reaction = reactionTo(error);
        if (reaction.kind !== "pause") throw error;
        await moveTo("paused", `closing the run: ${reaction.reason}`);
        pauseRequested = true;
        await waitForResume();
      }
    }
  };
  const fail = async (reason: string, type: string): Promise<never> => {
    status.current = undefined;
    await closeOnChain({ as: "failed", reason });
    await moveTo("failed", reason);
    throw ApplicationFailure.nonRetryable(reason, type);
  };
  const refuse = async (cause: RefusalCause, why: string): Promise<never> => {
    const reason = `refused to start: ${why}`;
    await quick.reportRunRefused({ runId, cause, reason });
    return await fail(reason, "RunRefusedError");
  };

  const spec = input.spec ?? (await fetchSpec(runId, input.specUri, refuse));
  const gpuSecondsBudget = Math.round(spec.gpuHourBudget * 3600);
  status.name = spec.name;
  status.rounds = spec.rounds;
  status.gpuSecondsBudget = gpuSecondsBudget;
  if (!input.carry) {
    const deadline = replicaDeadlineSeconds(spec, options.replicaDeadlineSeconds);
    const worst = worstRoundGpuSeconds(spec, deadline);
    if (worst > gpuSecondsBudget)
      return await refuse(
        "unaffordable",
        `one round may cost ${spec.replicasPerRound} replicas × ${spec.gpusPerReplica} GPUs × ${deadline} s deadline = ${worst} GPU-seconds, more than the budget of ${gpuSecondsBudget}; raise gpuHourBudget, lower roundDeadlineSeconds or replicasPerRound`,
      );
  }

  if (!input.carry) await moveTo("running");
  let carry: RunCarry = input.carry ?? (await startRun(runId, spec));
  let stopReason: string | undefined;
  let endedOnChain: string | undefined;
  let roundsThisExecution = 0;
  while (carry.nextRound <= spec.rounds && !cancel) {
    if (pauseRequested) {
      await moveTo("paused", pauseReason);
      if ((await waitForResume()) === "stopped") {
        endedOnChain = cancel ? undefined : "the run was closed on-chain while paused";
        break;
      }
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
      const reaction = reactionTo(error);
      if (reaction.kind === "pause") {
        // The round is played again after resume: nothing of it was committed.
        pauseRequested = true;
        pauseReason = `round ${round}: ${reaction.reason}`;
        status.current = undefined;
        continue;
      }
      if (reaction.kind === "ended") {
        endedOnChain = `round ${round}: ${reaction.reason}`;
        break;
      }
      if (reaction.kind === "close") return await fail(`round ${round}: ${reaction.reason}`, reaction.type);
      throw error;
    } finally {
      roundScope = undefined;
    }
    for (const offender of outcome.offenders) carry.strikes[offender] = (carry.strikes[offender] ?? 0) + 1;
    if (!outcome.ok) return await fail(outcome.reason, "RoundQuorumError");
    carry = advance(carry, outcome.summary, options.recentRounds);
    roundsThisExecution += 1;
    status.committedRounds = carry.nextRound - 1;
    status.gpuSecondsUsed = carry.gpuSecondsUsed;
    status.recent = carry.recent;
    status.current = undefined;
  }

  status.current = undefined;
  // A run cancelled on request ends Cancelled on-chain too (a DAO cancellation already closed it).
  await closeOnChain(
    cancel ? { as: "cancelled", reason: `${cancel.source}: ${cancel.reason}` } : { as: "completed" },
  );
  if (cancel) await moveTo("cancelled", `${cancel.source}: ${cancel.reason}`);
  else if (endedOnChain) {
    const { status: onChain } = await chain.readRunStatus({ runId });
    await moveTo(onChain === "cancelled" || onChain === "completed" ? onChain : "failed", endedOnChain);
  } else await moveTo("completed", stopReason ?? "rounds");
  return status;
}

/**
 * The approved run's spec from its URI, verified against the run id and the terms on-chain; a
 * spec that cannot be read (after `specRetry`), parsed or matched refuses the run.
 */
async function fetchSpec(
  runId: Hex,
  specUri: string | undefined,
  refuse: (cause: RefusalCause, why: string) => Promise<never>,
): Promise<RunSpec> {
  if (specUri === undefined)
    throw ApplicationFailure.nonRetryable(
      `trainingRun ${runId}: give the spec or its URI`,
      "InvalidInputError",
    );
  try {
    return await specs.fetchRunSpec({ runId, specUri });
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    const type = error.cause instanceof ApplicationFailure ? error.cause.type : undefined;
    const cause: RefusalCause =
      type === "RunSpecMismatchError" ? "mismatch" : type === "InvalidInputError" ? "invalid" : "unreadable";
    return await refuse(cause, error.cause?.message || error.message);
  }
}

async function startRun(runId: Hex, spec: RunSpec): Promise<RunCarry> {
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

/**
 * An older round's summary as the status keeps it. The latest round keeps every row; an older one
 * past DETAILED_ROUND_REPLICAS keeps the replicas with something to say (failed, lost, rejected).
 * At 6,400 replicas a round's rows are 0.5 MiB: five of them would break Temporal's 2 MiB payload
 * limit in the status, the run's result and the continueAsNew input.
 */
function withoutAcceptedRows(summary: RoundSummary): RoundSummary {
  if (summary.replicas.length <= DETAILED_ROUND_REPLICAS) return summary;
  return { ...summary, replicas: summary.replicas.filter((r) => r.phase !== "accepted") };
}
