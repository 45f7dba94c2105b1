import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, InvalidArgumentError } from "commander";
import { formatUnits } from "viem";
import { DEMO_CORPUS, DEMO_SHARD_TOKENS, demoRunSpec } from "../../localstack/demoRun.ts";
import type { LocalStack } from "../../localstack/stack.ts";
import { startLocalStack } from "../../localstack/stack.ts";
import {
  approveDataset,
  approveRun,
  chainRecord,
  claimAll,
  downloadRelease,
  followRun,
  onboardLocalContributors,
  onboardSimulatedContributors,
  releaseCheckpoint,
  sampleRelease,
} from "../../localstack/story.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { CliError, oneOf } from "../program.ts";
import { type DemoSummary, printSummary } from "./demoSummary.ts";

const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
/** How the corpus's fables begin: what the demo asks the released model to continue. */
const SAMPLE_PROMPT = "At dawn, a gentle lamb ";
const CONTRIBUTORS = [
  { name: "contributor-a", gpus: 2, gpuProduct: "NVIDIA-H100-80GB-HBM3" },
  { name: "contributor-b", gpus: 2, gpuProduct: "NVIDIA-A100-SXM4-40GB" },
] as const;

const CLUSTER_KINDS = ["local", "kubernetes"] as const;
type ClusterKind = (typeof CLUSTER_KINDS)[number];

interface DemoOptions {
  workDir?: string;
  clusters: ClusterKind;
  rounds: number;
  reduced: boolean;
  json: boolean;
  keepRunning: boolean;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number ≥ 1");
  return n;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "tell the whole daotrain story on this machine: local chain + DAO, Temporal, two contributors, a funded run of real training, release, verified download, rewards",
    )
    .option(
      "--work-dir <dir>",
      "where the demo keeps its chain deployment, stores and downloads (default: a fresh .daotrain/demo/<time>)",
    )
    .option("--rounds <n>", "training rounds", positive, 3)
    .option(
      "--clusters <kind>",
      "where contributors' replicas run: local (child processes) or kubernetes (two simulated clusters: real control planes + KWOK; needs the bootstrapped Kubernetes binaries)",
      oneOf(CLUSTER_KINDS),
      "local" as ClusterKind,
    )
    .option("--reduced", "a smaller model and fewer steps (what the tests run)", false)
    .option("--json", "print the summary as JSON on stdout (progress stays on stderr)", false)
    .option("--keep-running", "leave the stack up after the summary, until Ctrl-C", false)
    .action(async (options: DemoOptions) => {
      await runDemo(options);
    });

  program
    .command("up")
    .description(
      "start the local stack (anvil + DAO, Temporal with its UI, a worker) and keep it running for the other verbs",
    )
    .option("--work-dir <dir>", "where the stack keeps its files (default: .daotrain/up)")
    .action(async (options: { workDir?: string }) => {
      const workDir = resolve(options.workDir ?? ".daotrain/up");
      await rm(workDir, { recursive: true, force: true });
      await mkdir(workDir, { recursive: true });
      const stack = await startLocalStack({
        workDir,
        ui: true,
        console: true,
        metricsPort: 0,
        log: progress,
      });
      printWhereToLook(stack);
      process.stderr.write(
        `\nThe stack's environment is in ${stack.envFile}:\n  source ${stack.envFile}\nthen run other daotrain verbs. Ctrl-C stops everything.\n`,
      );
      await untilInterrupted();
      await stack.stop();
    });
}

function progress(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

async function untilInterrupted(): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

function printWhereToLook(stack: LocalStack): void {
  process.stderr.write(
    [
      "",
      "Where to look:",
      `  members' console ${stack.console?.url ?? "(not started with --json)"}`,
      `  Temporal UI      ${stack.temporal.uiUrl ?? "(headless)"}`,
      `  worker metrics   ${stack.worker.metricsServer.url}`,
      `  chain RPC        ${stack.anvil.rpcUrl} (chain id ${stack.anvil.chainId})`,
      `  DAO              ${stack.dao.deployment.dao.address}`,
      `  files            ${stack.workDir}`,
      "",
    ].join("\n"),
  );
}

async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const workDir = resolve(
    options.workDir ?? join(".daotrain", "demo", new Date().toISOString().replace(/[:.]/g, "-")),
  );
  await mkdir(workDir, { recursive: true });
  const steps = 10;
  let n = 0;
  // Ctrl-C ends the story at the next step (or stops following the run) and stops the stack in
  // order: worker, Temporal connection, then the processes.
  const interrupt = new AbortController();
  const onInterrupt = () => {
    process.stderr.write("\ninterrupted: stopping every process the demo started\n");
    interrupt.abort();
  };
  process.once("SIGINT", onInterrupt);
  const step = async <T>(title: string, body: () => Promise<T>): Promise<T> => {
    interrupt.signal.throwIfAborted();
    n += 1;
    const started = performance.now();
    process.stderr.write(`\n[${n}/${steps}] ${title}\n`);
    const value = await body();
    process.stderr.write(`      done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return value;
  };

  let stack: LocalStack | undefined;
  try {
    const story = async (): Promise<DemoSummary> => {
      const live = await step(
        "Start the local stack: anvil, Aragon OSx DAO, Temporal, a daotrain worker",
        () => startLocalStack({ workDir, ui: !options.json, console: !options.json, log: progress }),
      );
      stack = live;
      const dataset = await step(
        "A member packs the shipped corpus and the DAO approves the dataset by vote",
        async () => {
          const approved = await approveDataset(
            live,
            DEMO_CORPUS,
            "public domain (Aesop's fables)",
            DEMO_SHARD_TOKENS,
          );
          progress(
            `dataset ${approved.root}: ${approved.shards} shards, proposal ${approved.proposal.proposalId} executed`,
          );
          return approved;
        },
      );
      const where = options.clusters === "kubernetes" ? "simulated Kubernetes clusters" : "local executor";
      const contributors = await step(
        `Two contributors onboard their clusters (${where}); the DAO admits them`,
        async () => {
          const onboarded =
            options.clusters === "kubernetes"
              ? await onboardSimulatedContributors(live, CONTRIBUTORS, projectRoot)
              : await onboardLocalContributors(live, CONTRIBUTORS);
          for (const c of onboarded)
            progress(`${c.name}: ${c.gpus} × ${c.gpuProduct}, owner ${c.ownerAddress}`);
          return onboarded;
        },
      );
      const spec = await demoRunSpec({
        reduced: options.reduced,
        rounds: options.rounds,
        dataset: dataset.root,
      });
      const run = await step(
        `A member proposes run '${spec.name}'; the DAO approves it and funds its escrow`,
        async () => {
          const approved = await approveRun(live.dao, spec);
          progress(`run ${approved.runId}: escrow ${formatUnits(approved.escrow, 18)} tokens`);
          return approved;
        },
      );
      const final = await step(
        `Temporal trains ${spec.rounds} rounds (${spec.replicasPerRound} replicas each) and commits every root on-chain`,
        () => followRun(live, run.runId, reportRound(), interrupt.signal),
      );
      if (final.state !== "completed")
        throw new CliError(`the run ended ${final.state}: ${final.reason ?? "no reason given"}`);
      const lastRound = final.recent.at(-1)?.round;
      if (lastRound === undefined) throw new CliError("the run completed without committing a round");
      await step(`The DAO releases round ${lastRound} by vote; the release workflow publishes it`, () =>
        releaseCheckpoint(live, run.runId, lastRound),
      );
      const download = await step(
        "A downloader fetches the released model (Hugging Face layout) and proves every file against the chain",
        async () => {
          const out = join(workDir, "download");
          const result = await downloadRelease(live, run.runId, lastRound, out);
          progress(
            `${result.files.length} files, ${result.totalBytes} bytes proven against root ${result.root} → ${out}`,
          );
          return result;
        },
      );
      const claims = await step("Contributors claim their rewards from the run's escrow", async () => {
        const made = await claimAll(run.runId, contributors);
        for (const c of made)
          progress(
            `${c.name}: claimed ${formatUnits(c.earned, 18)} tokens${c.txHash ? ` (tx ${c.txHash})` : ""}`,
          );
        return made;
      });
      const record = await step("Read back what the chain recorded for every round", () =>
        chainRecord(live, run.runId),
      );
      const sample = await step("The downloader tries the released model: daotrain sample", async () => {
        const made = await sampleRelease(download.out, SAMPLE_PROMPT);
        progress(`daotrain sample ${download.out} --prompt ${JSON.stringify(made.prompt)}`);
        progress(`${made.prompt}${made.continuation}`);
        return made;
      });
      return {
        runId: run.runId,
        datasetRoot: dataset.root,
        rounds: record.rounds,
        contributors: claims.map((c) => ({
          name: c.name,
          owner: c.owner,
          gpuSeconds: record.credits
            .filter((credit) => credit.contributor === c.owner)
            .reduce((sum, credit) => sum + credit.gpuSeconds, 0),
          rewardTokens: formatUnits(c.earned, 18),
          balanceTokens: formatUnits(c.balance, 18),
          claimTx: c.txHash,
        })),
        download: { out: download.out, root: download.root, bytes: download.totalBytes },
        sample,
        temporalUi: live.temporal.uiUrl,
        metricsUrl: live.worker.metricsServer.url,
        workDir,
      };
    };
    const summary = await story();
    printSummary(summary, options.json);
    if (stack) printWhereToLook(stack);
    if (!options.keepRunning)
      process.stderr.write("The stack stops now; run with --keep-running to keep these up and explore.\n");
    if (options.keepRunning) {
      process.stderr.write("The stack keeps running; Ctrl-C stops it.\n");
      await untilInterrupted();
    }
    return summary;
  } catch (error) {
    if (interrupt.signal.aborted) throw new CliError("interrupted", 130);
    throw error;
  } finally {
    process.off("SIGINT", onInterrupt);
    await stack?.stop();
  }
}

/** Prints a line whenever the run's committed rounds or the round in flight change. */
function reportRound(): (status: RunStatus) => void {
  let last = "";
  return (status) => {
    const current = status.current
      ? `round ${status.current.round} attempt ${status.current.attempt}: ${status.current.replicas
          .map((r) => `${r.cluster}#${r.replica} ${r.phase}`)
          .join(", ")}`
      : "between rounds";
    const latest = status.recent.at(-1);
    const committed = latest
      ? `; committed round ${latest.round} loss ${latest.metrics.loss.toFixed(3)} val ${latest.metrics.valLoss.toFixed(3)} root ${latest.root.slice(0, 18)}…`
      : "";
    const line = `${status.committedRounds}/${status.rounds} rounds${committed} — ${current}`;
    if (line !== last) progress(line);
    last = line;
  };
}
