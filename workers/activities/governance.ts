import { ApplicationFailure } from "@temporalio/common";
import type { Governance } from "../../governance/chain.ts";
import { getRun } from "../../governance/reads.ts";
import { type GovernanceEvent as ChainEvent, pollEvents } from "../../governance/watcher.ts";
import { InvalidInputError } from "../../spec/errors.ts";
import type { RunSpec } from "../../spec/runSpec.ts";
import { RunSpecMismatchError } from "../../spec/specDocument.ts";
import { type ReadRunSpecOptions, readRunSpec } from "../../storage/index.ts";
import type { GovernanceActivities, GovernanceEvent } from "../../workflows/activities.ts";
import type { Hex } from "../../workflows/types.ts";

export interface GovernanceContext {
  chain: Governance;
  /** Blocks an event must be buried under before the watcher sees it. */
  confirmations: number;
  /** How specs are read: S3 settings, and whether file:// specs are allowed. */
  specReading: ReadRunSpecOptions;
}

export function governanceActivities(ctx: GovernanceContext): GovernanceActivities {
  const { chain } = ctx;
  return {
    async pollGovernance({ fromBlock }) {
      const { events, cursor } = await pollEvents(chain, {
        cursor: { nextBlock: fromBlock },
        confirmations: ctx.confirmations,
      });
      return { events: events.flatMap(toGovernanceEvent), nextBlock: cursor.nextBlock };
    },

    async readRunStatus({ runId }) {
      return { status: (await getRun(chain, runId)).status };
    },

    async fetchRunSpec({ runId, specUri }) {
      try {
        const spec = await readRunSpec(specUri, runId, ctx.specReading);
        await checkApprovedTerms(chain, runId, spec);
        return spec;
      } catch (error) {
        // Retrying cannot change what the document says; a store that did not answer can.
        if (error instanceof InvalidInputError || error instanceof RunSpecMismatchError)
          throw ApplicationFailure.nonRetryable(error.message, error.name);
        throw error;
      }
    },
  };
}

/**
 * The spec's hash is the run id, but the dataset, budget and rate the DAO voted on are separate
 * arguments of approveRun: a proposal could pair one spec with other terms. The run trains by
 * the spec and is paid by the chain, so the two must agree.
 */
async function checkApprovedTerms(chain: Governance, runId: Hex, spec: RunSpec): Promise<void> {
  const run = await getRun(chain, runId);
  const approved = {
    dataset: run.datasetRoot.toLowerCase(),
    gpuSecondsBudget: run.gpuSecondsBudget,
    rewardPerGpuHour: run.rewardPerGpuHour,
  };
  const specified = {
    dataset: spec.dataset,
    gpuSecondsBudget: BigInt(Math.round(spec.gpuHourBudget * 3600)),
    rewardPerGpuHour: BigInt(spec.rewardPerGpuHour),
  };
  const differing = (Object.keys(approved) as (keyof typeof approved)[])
    .filter((field) => approved[field] !== specified[field])
    .map((field) => `${field} is ${approved[field]} on-chain but ${specified[field]} in the spec`);
  if (differing.length > 0)
    throw new RunSpecMismatchError(
      `the spec of run ${runId} does not match its approval: ${differing.join("; ")}; the DAO must cancel the run and propose it again`,
    );
}

/** The events the orchestration acts on; every other governance event is skipped. */
function toGovernanceEvent(event: ChainEvent): GovernanceEvent[] {
  const block = Number(event.blockNumber);
  switch (event.eventName) {
    case "RunApproved":
      return [{ kind: "runApproved", runId: event.args.runId, specUri: event.args.specUri, block }];
    case "RunCancelled":
      return [{ kind: "runCancelled", runId: event.args.runId, block }];
    case "CheckpointReleased":
      return [
        { kind: "checkpointReleased", runId: event.args.runId, round: Number(event.args.round), block },
      ];
    default:
      return [];
  }
}
