import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, Connection, type WorkflowHandle } from "@temporalio/client";
import type { Payload } from "@temporalio/common";
import { NativeConnection, Worker } from "@temporalio/worker";
import { createTestClient, type Hex, http, parseEventLogs } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runRegistryAbi } from "../../contracts/abi/index.ts";
import { connect } from "../../governance/chain.ts";
import {
  admitClusterProposal,
  approveDatasetProposal,
  clusterSanctionProposal,
  grantOperatorProposal,
  revokeOperatorProposal,
} from "../../governance/proposals.ts";
import { getRun } from "../../governance/reads.ts";
import type { PendingTransaction } from "../../governance/transactions.ts";
import { registerCluster } from "../../governance/writes.ts";
import { approveRun } from "../../localstack/story.ts";
import { chainActivities } from "../../workers/activities/chain.ts";
import { withFinalReverts } from "../../workers/activities/chainFailures.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { AesGcmCodec, encryptedDataConverter } from "../../workers/codec.ts";
import { newMetrics } from "../../workers/metrics.ts";
import { activityTransactionJournal, JOURNAL_HEARTBEAT_THROTTLE } from "../../workers/transactionJournal.ts";
import { type DaoFixture, id, startDaoFixture } from "../governance/fixture.ts";
import { startTemporal, type TemporalDevServer } from "../harness/temporal.ts";
import type { ChainStepInput, ChainStepResult } from "./chainStepWorkflow.ts";
import { tinySpec } from "./fixtures.ts";
import { waitFor } from "./polling.ts";

// The worker's chain activities as runs call them (the runs' retry policy, a real Temporal
// worker), against anvil with the Aragon OSx DAO: reverts that no retry can fix fail at once,
// typed by the contract's error, and an operator transaction lands once however slow the chain.

let dao: DaoFixture;
let temporal: TemporalDevServer;
let connection: Connection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `operator-calls-${process.pid}`;
const datasetRoot = id("dataset: operator calls");
const codec = new AesGcmCodec(randomBytes(32));

beforeAll(async () => {
  [dao, temporal] = await Promise.all([startDaoFixture(), startTemporal()]);
  const operator = await connect({
    deployment: dao.deployment,
    privateKey: dao.operatorKey,
    transactions: { replaceAfterMs: 1_000, journal: activityTransactionJournal },
  });
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: temporal.address }),
    namespace: temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL("./chainStepWorkflow.ts", import.meta.url)),
    activities: withFinalReverts(chainActivities({ chain: operator, metrics: newMetrics() })),
    dataConverter: encryptedDataConverter(codec),
    defaultHeartbeatThrottleInterval: JOURNAL_HEARTBEAT_THROTTLE,
  });
  running = worker.run();
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter: encryptedDataConverter(codec),
  });
  await dao.pass(
    approveDatasetProposal(dao.deployment.contracts, {
      root: datasetRoot,
      uri: "file:///nowhere",
      license: "CC0-1.0",
    }),
  );
  for (const [name, owner] of [
    ["alpha", dao.others[0]],
    ["beta", dao.others[1]],
  ] as const) {
    if (!owner) throw new Error("no cluster owner account");
    await registerCluster(owner, {
      clusterId: clusterIdOf(name),
      gpuCapacity: 4,
      gpuProduct: "T",
      metadata: name,
    });
    await dao.pass(
      admitClusterProposal(dao.deployment.contracts, {
        clusterId: clusterIdOf(name),
        owner: owner.wallet!.account.address,
        gpuCapacity: 4,
      }),
    );
  }
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await Promise.allSettled([dao?.stop(), temporal?.stop()]);
});

function step(input: ChainStepInput) {
  return client.workflow.start("chainStep", {
    taskQueue,
    workflowId: `step-${input.activity}-${randomBytes(4).toString("hex")}`,
    args: [input],
  });
}

async function stepResult(input: ChainStepInput): Promise<ChainStepResult> {
  return (await (await step(input)).result()) as ChainStepResult;
}

async function newRun(): Promise<Hex> {
  const spec = tinySpec({ dataset: datasetRoot, name: `run-${randomBytes(4).toString("hex")}` });
  return (await approveRun(dao, spec)).runId;
}

describe("a revert no retry can fix", () => {
  test("fails the activity at its first attempt, typed and named by the contract's error, for each final revert", async () => {
    const runId = await newRun();
    const budget = (await getRun(dao.operator, runId)).gpuSecondsBudget;
    // A commit of round 1 paying one cluster; each case reverts before its made-up root matters.
    const commitPaying = (run: Hex, cluster: string, gpuSeconds: bigint): ChainStepInput => {
      const credits = [{ clusterId: clusterIdOf(cluster), gpuSeconds: Number(gpuSeconds) }];
      const root = id(`root of ${run}`);
      return {
        activity: "commitRound",
        request: {
          runId: run,
          round: 1,
          checkpoint: { uri: "file:///nowhere/manifest.json", root },
          metrics: { loss: 1, valLoss: 1, tokens: 1, steps: 1 },
          credits,
          record: {
            format: "daotrain-round-record/0",
            runId: run,
            round: 1,
            parentRoot: id("parent"),
            datasetRoot,
            root,
            replicas: [],
            outer: { lr: 0.7, momentum: 0.9, nesterov: true, aggregation: "mean" },
            credits,
          },
        },
        startToCloseSeconds: 30,
      };
    };
    await dao.pass(clusterSanctionProposal(dao.deployment.contracts, "suspend", clusterIdOf("beta")));

    const cases: [string, ChainStepInput][] = [
      ["GpuBudgetExceeded", commitPaying(runId, "alpha", budget + 1n)],
      ["ClusterNotAdmitted", commitPaying(runId, "beta", 60n)],
      ["RunNotApproved", commitPaying(id("no such run"), "alpha", 60n)],
    ];
    for (const [revert, input] of cases) {
      const result = await stepResult(input);
      expect(result, revert).toMatchObject({ ok: false, type: revert, retryState: "NON_RETRYABLE_FAILURE" });
      expect((result as { message: string }).message).toContain(`reverted with ${revert}(`);
    }

    const operator = dao.deployment.operator;
    await dao.pass(revokeOperatorProposal(dao.deployment, operator));
    try {
      const revoked = await stepResult({
        activity: "closeRun",
        request: { runId, closing: { as: "completed" } },
        startToCloseSeconds: 30,
      });
      expect(revoked).toMatchObject({
        ok: false,
        type: "DaoUnauthorized",
        retryState: "NON_RETRYABLE_FAILURE",
      });
    } finally {
      await dao.pass(grantOperatorProposal(dao.deployment, operator));
    }
    expect((await getRun(dao.operator, runId)).status).toBe("approved");
  });
});

describe("operator transactions", () => {
  test("a transaction not mined in time is replaced at the same nonce with a higher fee, and a retried activity resumes it rather than sending another", async () => {
    const runId = await newRun();
    const anvil = createTestClient({ mode: "anvil", transport: http(dao.anvil.rpcUrl) });
    const operator = dao.deployment.operator;
    const nonceBefore = await dao.operator.publicClient.getTransactionCount({ address: operator });
    const blockBefore = await dao.operator.publicClient.getBlockNumber();
    let remembered: PendingTransaction | undefined;
    await anvil.setAutomine(false);
    try {
      // 3 s per attempt, a replacement after 1 s: the first attempt times out with its
      // transaction pending, and the second must find it.
      const handle = await step({
        activity: "closeRun",
        request: { runId, closing: { as: "completed" } },
        startToCloseSeconds: 3,
      });
      await waitFor(async () => {
        const { raw } = await handle.describe();
        return (raw.pendingActivities?.[0]?.attempt ?? 0) >= 2;
      });
      await new Promise((r) => setTimeout(r, 1_500));
      remembered = await rememberedTransaction(handle);
      await anvil.mine({ blocks: 1 });
      // Whichever attempt is running when the block comes finds the run closed: by its
      // transaction's receipt, or (an attempt started after it) by reading the chain first.
      expect(((await handle.result()) as ChainStepResult).ok).toBe(true);
    } finally {
      await anvil.setAutomine(true);
    }
    await anvil.mine({ blocks: 1 });

    const client = dao.operator.publicClient;
    const head = await client.getBlockNumber();
    const sent = [];
    for (let n = blockBefore + 1n; n <= head; n++) {
      const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
      sent.push(...block.transactions.filter((tx) => tx.from.toLowerCase() === operator.toLowerCase()));
    }
    expect(sent).toHaveLength(1);
    expect(sent[0]?.nonce).toBe(nonceBefore);
    // The retry worked on the first attempt's nonce, and what was mined replaced the first
    // transaction sent at it.
    expect(remembered?.nonce).toBe(nonceBefore);
    expect(remembered?.hashes.length).toBeGreaterThanOrEqual(2);
    expect(sent[0]?.hash).not.toBe(remembered?.hashes[0]);
    expect(await client.getTransactionCount({ address: operator })).toBe(nonceBefore + 1);
    const receipt = await client.getTransactionReceipt({ hash: sent[0]!.hash });
    const closed = parseEventLogs({ abi: runRegistryAbi, logs: receipt.logs, eventName: "RunCompleted" });
    expect(closed.map((e) => e.args.runId)).toEqual([runId]);
    expect((await getRun(dao.operator, runId)).status).toBe("completed");
  });
});

/** What the step's pending activity last heartbeated: the transaction it sent, decrypted. */
async function rememberedTransaction(handle: WorkflowHandle): Promise<PendingTransaction | undefined> {
  const { raw } = await handle.describe();
  const payloads = raw.pendingActivities?.[0]?.heartbeatDetails?.payloads ?? [];
  const [decoded] = await codec.decode(payloads as Payload[]);
  return decoded?.data ? (JSON.parse(Buffer.from(decoded.data).toString()) as PendingTransaction) : undefined;
}
