import { WorkflowNotFoundError } from "@temporalio/client";
import type { Command } from "commander";
import { Bytes32 } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { connectClient } from "../../workers/client.ts";
import { cancelSignal, pauseSignal, resumeSignal, statusQuery } from "../../workflows/signals.ts";
import type { ReplicaStatus, RunStatus } from "../../workflows/types.ts";
import { CliError, ExitCode } from "../program.ts";

/** `daotrain run status|pause|resume|cancel <runId>`: talks to the run's workflow. */
export function register(program: Command): void {
  const run = program.command("run").description("inspect and steer a training run's workflow");
  run
    .command("status")
    .description("progress of a run: rounds, replicas, GPU-seconds")
    .argument("<runId>", "the run id (0x + 64 hex digits) or its workflow id run-0x…")
    .option("--json", "print the status as JSON")
    .action(async (id: string, options: { json?: boolean }) => {
      const status = await withRun(id, (handle) => handle.query(statusQuery));
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    });
  for (const [verb, description] of [
    ["pause", "pause after the round in flight"],
    ["resume", "resume a paused run"],
    [
      "cancel",
      "stop now: delete the round's Jobs and close the run on-chain (unspent escrow back to the DAO)",
    ],
  ] as const) {
    run
      .command(verb)
      .description(description)
      .argument("<runId>", "the run id (0x + 64 hex digits) or its workflow id run-0x…")
      .action(async (id: string) => {
        await withRun(id, async (handle) => {
          if (verb === "pause") await handle.signal(pauseSignal);
          else if (verb === "resume") await handle.signal(resumeSignal);
          else
            await handle.signal(cancelSignal, {
              source: "operator",
              reason: "cancelled with daotrain run cancel",
            });
        });
        process.stdout.write(`${verb} sent to ${workflowIdOf(id)}\n`);
      });
  }
}

function workflowIdOf(id: string): string {
  const runId = id.startsWith("run-") ? id.slice(4) : id;
  const parsed = Bytes32.safeParse(runId);
  if (!parsed.success) {
    throw new CliError(
      `run id ${JSON.stringify(id)} must be 0x followed by 64 lowercase hex digits`,
      ExitCode.usage,
    );
  }
  return runWorkflowId(parsed.data);
}

async function withRun<T>(
  id: string,
  act: (
    handle: ReturnType<Awaited<ReturnType<typeof connectClient>>["client"]["workflow"]["getHandle"]>,
  ) => Promise<T>,
): Promise<T> {
  const workflowId = workflowIdOf(id);
  const { client, close } = await connectClient();
  try {
    return await act(client.workflow.getHandle(workflowId));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new CliError(
        `no run ${workflowId} on this Temporal namespace; check the id and TEMPORAL_ADDRESS`,
      );
    }
    throw error;
  } finally {
    await close();
  }
}

function formatStatus(status: RunStatus): string {
  const lines = [
    `run ${status.name} (${status.runId})`,
    `state      ${status.state}${status.reason ? ` (${status.reason})` : ""}`,
    `rounds     ${status.committedRounds}/${status.rounds} committed`,
    `gpu        ${status.gpuSecondsUsed}/${status.gpuSecondsBudget} GPU-seconds`,
  ];
  if (status.current) {
    lines.push(`round ${status.current.round} (attempt ${status.current.attempt}) in flight:`);
    lines.push(...status.current.replicas.map(formatReplica));
  }
  for (const round of status.recent) {
    lines.push(
      `round ${round.round}: root ${round.root}, loss ${round.metrics.loss.toFixed(4)}, val ${round.metrics.valLoss.toFixed(4)}, ` +
        `${round.attempts} attempt(s), ${Math.round(round.phaseMs.total / 1000)} s`,
    );
    lines.push(...round.replicas.map(formatReplica));
  }
  return `${lines.join("\n")}\n`;
}

function formatReplica(r: ReplicaStatus): string {
  const extra = [r.gpuSeconds !== undefined ? `${r.gpuSeconds} GPU-s` : "", r.reason ?? r.measures ?? ""]
    .filter(Boolean)
    .join(", ");
  return `  replica ${r.replica} on ${r.cluster} (attempt ${r.attempt}): ${r.phase}${extra ? ` — ${extra}` : ""}`;
}
