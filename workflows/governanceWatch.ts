import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from "@temporalio/common";
import {
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from "@temporalio/workflow";
import { runWorkflowId } from "../spec/workflowIds.ts";
import type { Activities, GovernanceEvent } from "./activities.ts";
import { release } from "./release.ts";
import { watcherChainRetry } from "./retry.ts";
import { cancelSignal, cursorQuery, releaseWorkflowId } from "./signals.ts";
import { type RunOptions, trainingRun } from "./trainingRun.ts";

const chain = proxyActivities<Activities>({ startToCloseTimeout: "1 minute", retry: watcherChainRetry });

export interface GovernanceWatchInput {
  /** The first block not yet handled. */
  fromBlock: number;
  pollSeconds: number;
  /** Options every run started by this watcher gets (tests shorten deadlines). */
  runOptions?: Partial<RunOptions>;
  pollsPerExecution?: number;
}

/**
 * Follows the DAO's decisions on-chain from a block cursor (events buried under the worker's
 * confirmations only): an approved run that is still open on-chain starts its `trainingRun`, a
 * cancelled run is told to stop, a released checkpoint is published. Runs and releases outlive
 * this watcher (it continues as new with only its cursor), and their workflow ids are derived
 * from the chain and never reused, so an event handled twice, or again by a watcher restarted
 * from the deployment's first block, changes nothing. The watcher never reads a run's spec: the
 * run does, so a spec that cannot be read is that run's refusal, not a wedged watcher.
 */
export async function governanceWatch(input: GovernanceWatchInput): Promise<void> {
  let cursor = input.fromBlock;
  setHandler(cursorQuery, () => cursor);
  const polls = input.pollsPerExecution ?? 1000;
  for (let i = 0; i < polls && !workflowInfo().continueAsNewSuggested; i++) {
    const { events, nextBlock } = await chain.pollGovernance({ fromBlock: cursor });
    for (const event of events) await handle(event, input);
    cursor = nextBlock;
    await sleep(input.pollSeconds * 1000);
  }
  await continueAsNew<typeof governanceWatch>({ ...input, fromBlock: cursor });
}

async function handle(event: GovernanceEvent, input: GovernanceWatchInput): Promise<void> {
  switch (event.kind) {
    case "runApproved": {
      const { status } = await chain.readRunStatus({ runId: event.runId });
      if (status !== "approved") {
        log.info("approved run already closed on-chain; not starting it", { runId: event.runId, status });
        return;
      }
      await startOnce(() =>
        startChild(trainingRun, {
          workflowId: runWorkflowId(event.runId),
          args: [{ runId: event.runId, specUri: event.specUri, options: input.runOptions }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // A run's workflow id is used once: a run that ended (or was refused) is never redone.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
      return;
    }
    case "runCancelled": {
      const run = getExternalWorkflowHandle(runWorkflowId(event.runId));
      try {
        await run.signal(cancelSignal, { source: "dao", reason: "the DAO cancelled the run" });
      } catch {
        // The run never started or has ended: there is nothing left to stop.
      }
      return;
    }
    case "checkpointReleased": {
      await startOnce(() =>
        startChild(release, {
          workflowId: releaseWorkflowId(event.runId, event.round),
          args: [{ runId: event.runId, round: event.round }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
      return;
    }
  }
}

async function startOnce(start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
