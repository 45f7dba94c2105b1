import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { WorkflowFailedError } from "@temporalio/client";
import { createTestClient, type Hex, http } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { stringify as toYaml } from "yaml";
import { writeKeystore } from "../../governance/keys.ts";
import {
  approveDatasetProposal,
  approveRunProposal,
  grantOperatorProposal,
  revokeDatasetProposal,
  revokeOperatorProposal,
  runApprovalOf,
} from "../../governance/proposals.ts";
import { escrowFor, getDataset, getRun, tokenBalance } from "../../governance/reads.ts";
import { approveRun } from "../../localstack/story.ts";
import { type RunSpec, runIdOf, runWorkflowId } from "../../spec/runSpec.ts";
import { runSpecDataUri } from "../../spec/specDocument.ts";
import {
  cursorQuery,
  GOVERNANCE_WATCH_ID,
  pauseSignal,
  resumeSignal,
  statusQuery,
} from "../../workflows/signals.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { daotrainWithEnv } from "../cli/inProcess.ts";
import { waitFor } from "./polling.ts";
import { startWatchedStack, type WatchedStack } from "./stack.ts";
import { workflowResult } from "./story.ts";

// DAO decisions on a real chain (anvil + Aragon OSx), a real Temporal server and worker, real
// trainers: how runs start from what members propose, and what happens when the chain or the
// DAO says no.

let stack: WatchedStack;

beforeAll(async () => {
  stack = await startWatchedStack();
});

afterAll(async () => {
  await stack?.stop();
});

/** A small run: one round (unless told), two replicas on whichever cluster has room. */
const smallSpec = (overrides: Partial<RunSpec> = {}) =>
  stack.spec({ rounds: 1, replicasPerRound: 2, minReplicas: 1, ...overrides });

/** The CLI in this process, as a member with `env` (DAOTRAIN_KEY, Temporal's settings…) would run it. */
const cli = (env: Record<string, string>, ...args: string[]) =>
  daotrainWithEnv({ DAOTRAIN_DEPLOYMENT: stack.env.DAOTRAIN_DEPLOYMENT, ...env }, ...args);

const memberKeys = () => stack.dao.anvil.accounts.slice(1, 4).map((a) => a.privateKey);

/** Two members vote yes, the vote's time passes, and the proposal executes: all through the CLI. */
async function passByCli(proposalId: string): Promise<void> {
  const [first, second, third] = memberKeys();
  for (const key of [second, third]) {
    const voted = await cli({ DAOTRAIN_KEY: key! }, "vote", proposalId, "yes");
    expect(voted.code, voted.stderr).toBe(0);
  }
  expect((await cli({}, "dao", "advance-time", "3600")).code).toBe(0);
  const executed = await cli({ DAOTRAIN_KEY: first! }, "execute", proposalId);
  expect(executed.code, executed.stderr).toBe(0);
}

/** Approves a run whose on-chain specUri is `specUri`, whatever it names. */
async function approveWithSpecUri(spec: RunSpec, specUri: string): Promise<Hex> {
  const run = runApprovalOf(spec, specUri);
  const escrow = await escrowFor(stack.dao.operator, run.gpuSecondsBudget, run.rewardPerGpuHour);
  await stack.dao.pass(approveRunProposal(stack.dao.deployment, run, escrow));
  return run.runId;
}

async function failureOf(workflowId: string): Promise<string> {
  const failure = await workflowResult(stack.client, workflowId).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  return String((failure as WorkflowFailedError).cause?.message);
}

const metric = async (series: string): Promise<number | undefined> => {
  const scrape = await (await fetch(stack.worker.metricsServer.url)).text();
  const line = scrape.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("specs any worker can read", () => {
  test("the README's `daotrain propose run my-run.yaml`, a vote and `daotrain execute` start and finish the run: the spec goes on-chain inline, signed from a keystore", async () => {
    const spec = smallSpec();
    const file = join(stack.dir, "my-run.yaml");
    await writeFile(file, toYaml(spec));
    const [proposerKey] = memberKeys();
    const keystore = join(stack.dir, `member-${randomBytes(3).toString("hex")}.json`);
    const passwordFile = join(stack.dir, "member-password");
    await writeFile(passwordFile, "correct horse battery staple\n");
    await writeKeystore(keystore, proposerKey!, "correct horse battery staple", { scryptN: 1024 });

    const proposed = await cli(
      {},
      "propose",
      "run",
      file,
      "--keystore",
      keystore,
      "--password-file",
      passwordFile,
      "--json",
    );
    expect(proposed.code, proposed.stderr).toBe(0);
    await passByCli(JSON.parse(proposed.stdout).proposalId);

    const runId = runIdOf(spec);
    const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId));
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const onChain = await getRun(stack.dao.operator, runId);
    expect(onChain.specUri).toBe(runSpecDataUri(spec));
    expect(onChain.status).toBe("completed");
  });

  test("a spec that cannot be read, parsed or matched is a refused start: the run is closed with the reason, `daotrain run status` says why, the metric counts it, and later runs still start", async () => {
    const refusals: { runId: Hex; why: RegExp }[] = [];
    const onDisk = smallSpec();
    const specFile = join(stack.dir, "on-one-disk.json");
    await writeFile(specFile, JSON.stringify(onDisk));
    refusals.push({
      runId: await approveWithSpecUri(onDisk, pathToFileURL(specFile).href),
      why: /a file:\/\/ spec is on one machine's disk/,
    });
    const another = smallSpec();
    refusals.push({
      runId: await approveWithSpecUri(another, runSpecDataUri(smallSpec())),
      why: /hashes to 0x[0-9a-f]{64}, not the approved run/,
    });
    const garbage = smallSpec();
    refusals.push({
      runId: await approveWithSpecUri(
        garbage,
        `data:application/json;base64,${Buffer.from("[1, 2").toString("base64")}`,
      ),
      why: /not YAML or JSON/,
    });
    const later = await stack.approveRun(smallSpec());

    for (const { runId, why } of refusals) {
      expect(await failureOf(runWorkflowId(runId))).toMatch(why);
      const shown = await cli(stack.processEnv, "run", "status", runId);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/state +failed \(refused to start: /);
      expect(shown.stdout).toMatch(why);
      const run = await getRun(stack.dao.operator, runId);
      expect(run.status).toBe("failed");
      expect(run.escrow.refunded).toBe(run.escrow.funded);
    }
    expect(await metric('daotrain_runs_refused_total{cause="invalid"}')).toBeGreaterThanOrEqual(2);
    expect(await metric('daotrain_runs_refused_total{cause="mismatch"}')).toBeGreaterThanOrEqual(1);
    expect(await workflowResult<RunStatus>(stack.client, runWorkflowId(later))).toMatchObject({
      state: "completed",
    });
  });

  test("a watcher restarted from the deployment's first block starts no run that already ended", async () => {
    const ended = await stack.approveRun(smallSpec());
    await workflowResult<RunStatus>(stack.client, runWorkflowId(ended));
    const before = await stack.client.workflow.getHandle(runWorkflowId(ended)).describe();

    await stack.client.workflow.getHandle(GOVERNANCE_WATCH_ID).terminate("restart from the first block");
    await stack.startWatcher();
    const head = Number(await stack.dao.operator.publicClient.getBlockNumber());
    const watcher = stack.client.workflow.getHandle(GOVERNANCE_WATCH_ID);
    await waitFor(async () => (await watcher.query(cursorQuery)) > head);

    const after = await stack.client.workflow.getHandle(runWorkflowId(ended)).describe();
    expect(after.runId).toBe(before.runId);
    expect(after.status.name).toBe("COMPLETED");
  });
});

describe("a dataset revoked while a run uses it", () => {
  test("lets the run finish its rounds, as the contract says, while the registry shows it revoked", async () => {
    const runId = await stack.approveRun(smallSpec({ rounds: 2 }));
    const handle = stack.client.workflow.getHandle(runWorkflowId(runId));
    // Paused once round 1 is under way, the run stops after committing it.
    await waitFor(async () => (await handle.query(statusQuery)).current?.round === 1);
    await handle.signal(pauseSignal);
    await waitFor(async () => (await handle.query(statusQuery)).state === "paused");
    expect((await handle.query(statusQuery)).committedRounds).toBe(1);

    const { contracts } = stack.dao.deployment;
    const dataset = await getDataset(stack.dao.operator, stack.datasetRoot);
    await stack.dao.pass(revokeDatasetProposal(contracts, stack.datasetRoot));
    try {
      expect((await getDataset(stack.dao.operator, stack.datasetRoot)).approved).toBe(false);
      await handle.signal(resumeSignal);
      expect(await handle.result()).toMatchObject({ state: "completed", committedRounds: 2 });
    } finally {
      await stack.dao.pass(
        approveDatasetProposal(contracts, {
          root: stack.datasetRoot,
          uri: dataset.uri,
          license: dataset.license,
        }),
      );
    }
  });
});

describe("when the operator loses its permission mid-run", () => {
  test("the run pauses naming DaoUnauthorized, and `daotrain propose cancel` by vote ends it cancelled with the escrow refunded", async () => {
    const { operator } = stack.dao.deployment;
    await stack.dao.pass(revokeOperatorProposal(stack.dao.deployment, operator));
    let granted = false;
    try {
      const runId = await stack.approveRun(smallSpec());
      const handle = stack.client.workflow.getHandle(runWorkflowId(runId));
      const paused = await waitFor(async () => {
        const status = await handle.query(statusQuery);
        return status.state === "paused" ? status : undefined;
      });
      expect(paused.reason).toMatch(/^round 1: commitRound: commitRound reverted with DaoUnauthorized\(/);
      expect(paused.reason).toMatch(/grants it again/);
      expect(paused.committedRounds).toBe(0);

      const treasury = stack.dao.deployment.dao.address;
      const before = await tokenBalance(stack.dao.operator, treasury);
      const [proposer] = memberKeys();
      const proposed = await cli({ DAOTRAIN_KEY: proposer! }, "propose", "cancel", runId, "--json");
      expect(proposed.code, proposed.stderr).toBe(0);
      await passByCli(JSON.parse(proposed.stdout).proposalId);

      expect(await handle.result()).toMatchObject({
        state: "cancelled",
        reason: "dao: the DAO cancelled the run",
      });
      const run = await getRun(stack.dao.operator, runId);
      expect(run.status).toBe("cancelled");
      expect(run.escrow.refunded).toBe(run.escrow.funded);
      expect((await tokenBalance(stack.dao.operator, treasury)) - before).toBe(run.escrow.funded);

      // A run paused the same way resumes and completes once the DAO grants the permission again.
      const second = await stack.approveRun(smallSpec());
      const resumable = stack.client.workflow.getHandle(runWorkflowId(second));
      await waitFor(async () => (await resumable.query(statusQuery)).state === "paused");
      await stack.dao.pass(grantOperatorProposal(stack.dao.deployment, operator));
      granted = true;
      const resumed = await cli(stack.processEnv, "run", "resume", second);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(await resumable.result()).toMatchObject({ state: "completed", committedRounds: 1 });
      expect((await getRun(stack.dao.operator, second)).status).toBe("completed");
    } finally {
      if (!granted) await stack.dao.pass(grantOperatorProposal(stack.dao.deployment, operator));
    }
  });

  test("`daotrain propose cancel` refuses a run that is not open, naming its status", async () => {
    const [proposer] = memberKeys();
    const refused = await cli({ DAOTRAIN_KEY: proposer! }, "propose", "cancel", `0x${"ab".repeat(32)}`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/run 0x(ab){32} is unknown; only an approved run can be cancelled/);
  });
});

describe("confirmations", () => {
  test("a run approved in blocks that a reorg below the confirmations removes is never started; one approved for good is", async () => {
    await stack.restartWorker({ DAOTRAIN_CONFIRMATIONS: 4 });
    const anvil = createTestClient({ mode: "anvil", transport: http(stack.dao.anvil.rpcUrl) });
    const chain = stack.dao.operator.publicClient;
    const watcher = stack.client.workflow.getHandle(GOVERNANCE_WATCH_ID);

    const snapshot = await anvil.snapshot();
    const retracted = smallSpec();
    await approveRun(stack.dao, retracted);
    const approvedAt = Number(await chain.getBlockNumber());
    expect((await getRun(stack.dao.operator, runIdOf(retracted))).status).toBe("approved");
    // The watcher holds back the newest 4 blocks: it has not seen the approval yet.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await watcher.query(cursorQuery)).toBeLessThanOrEqual(approvedAt - 3);

    await anvil.revert({ id: snapshot });
    await anvil.mine({ blocks: approvedAt - Number(await chain.getBlockNumber()) + 6 });
    expect((await getRun(stack.dao.operator, runIdOf(retracted))).status).toBe("none");
    await waitFor(async () => (await watcher.query(cursorQuery)) > approvedAt);
    await expect(
      stack.client.workflow.getHandle(runWorkflowId(runIdOf(retracted))).describe(),
    ).rejects.toThrow(/not found/);

    const kept = await stack.approveRun(smallSpec());
    await anvil.mine({ blocks: 4 });
    expect(await workflowResult<RunStatus>(stack.client, runWorkflowId(kept))).toMatchObject({
      state: "completed",
    });
  });
});
