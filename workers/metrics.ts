import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RefusalCause } from "../workflows/types.ts";

// The one definition of daotrain's Prometheus metrics (names agreed in the metrics contract).
// Label values are closed sets so that series stay bounded; `contributor` and `cluster` are
// bounded by the DAO's admitted clusters.

export const runStates = ["running", "paused", "completed", "cancelled", "failed"] as const;
export const roundPhases = ["launch", "train", "aggregate", "commit", "total"] as const;
export const replicaOutcomes = ["accepted", "rejected", "failed", "lost"] as const;
export const lossSplits = ["train", "val"] as const;
export const transactionStatuses = ["success", "reverted", "error"] as const;
export const proposalStates = ["active", "succeeded", "executed", "defeated"] as const;
export const voteOptions = ["yes", "no", "abstain"] as const;
export const refusalCauses = [
  "unreadable",
  "invalid",
  "mismatch",
  "unaffordable",
] as const satisfies readonly RefusalCause[];

export type RunState = (typeof runStates)[number];
export type RoundPhase = (typeof roundPhases)[number];
export type ReplicaOutcome = (typeof replicaOutcomes)[number];
export type LossSplit = (typeof lossSplits)[number];
export type TransactionStatus = (typeof transactionStatuses)[number];
export type ProposalState = (typeof proposalStates)[number];
export type VoteOption = (typeof voteOptions)[number];

/** Rounds last seconds (tests, local executor) to hours (real clusters). */
const roundDurationBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200];

function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    registry,
    runs: new Gauge<"state">({
      name: "daotrain_runs",
      help: "Training runs by state",
      labelNames: ["state"],
      registers,
    }),
    runsRefused: new Counter<"cause">({
      name: "daotrain_runs_refused_total",
      help: "Runs approved on-chain that the orchestrator refused to start, by cause",
      labelNames: ["cause"],
      registers,
    }),
    roundDuration: new Histogram<"phase">({
      name: "daotrain_round_duration_seconds",
      help: "Wall time of a round and of its phases",
      labelNames: ["phase"],
      buckets: roundDurationBuckets,
      registers,
    }),
    roundsCommitted: new Counter({
      name: "daotrain_rounds_committed_total",
      help: "Rounds whose global checkpoint root was committed on-chain",
      registers,
    }),
    replicas: new Counter<"outcome">({
      name: "daotrain_replicas_total",
      help: "Replicas that finished a round, by outcome",
      labelNames: ["outcome"],
      registers,
    }),
    /** Label values: diloco's REJECTION_REASONS. */
    replicaRejections: new Counter<"reason">({
      name: "daotrain_replica_rejections_total",
      help: "Replicas the outer step rejected, by reason (diloco/README.md)",
      labelNames: ["reason"],
      registers,
    }),
    checkpointLoss: new Gauge<"split">({
      name: "daotrain_checkpoint_loss",
      help: "Loss of the latest committed global checkpoint",
      labelNames: ["split"],
      registers,
    }),
    gpuSeconds: new Counter<"contributor">({
      name: "daotrain_gpu_seconds_total",
      help: "Verified GPU-seconds credited, by contributor (owner address)",
      labelNames: ["contributor"],
      registers,
    }),
    rewardsTokens: new Counter<"contributor">({
      name: "daotrain_rewards_tokens_total",
      help: "Rewards credited, in whole tokens, by contributor (owner address)",
      labelNames: ["contributor"],
      registers,
    }),
    hashBytes: new Counter({
      name: "daotrain_hash_bytes_total",
      help: "Checkpoint bytes hashed",
      registers,
    }),
    hashDuration: new Counter({
      name: "daotrain_hash_duration_seconds_total",
      help: "Seconds spent hashing checkpoints",
      registers,
    }),
    chainTransactions: new Counter<"method" | "status">({
      name: "daotrain_chain_transactions_total",
      help: "Chain transactions sent, by contract method and status",
      labelNames: ["method", "status"],
      registers,
    }),
    chainGasUsed: new Counter<"method">({
      name: "daotrain_chain_gas_used_total",
      help: "Gas used by chain transactions, by contract method",
      labelNames: ["method"],
      registers,
    }),
    proposals: new Gauge<"state">({
      name: "daotrain_proposals",
      help: "DAO proposals by state",
      labelNames: ["state"],
      registers,
    }),
    votes: new Counter<"option">({
      name: "daotrain_votes_total",
      help: "Votes cast on DAO proposals, by option",
      labelNames: ["option"],
      registers,
    }),
    checkpointsReleased: new Counter({
      name: "daotrain_checkpoints_released_total",
      help: "Checkpoints released by DAO vote",
      registers,
    }),
    clusterHealthy: new Gauge<"cluster">({
      name: "daotrain_cluster_healthy",
      help: "1 when the contributed cluster answered its last health check, else 0",
      labelNames: ["cluster"],
      registers,
    }),
    clusterFreeGpus: new Gauge<"cluster">({
      name: "daotrain_cluster_free_gpus",
      help: "GPUs free under the contributed cluster's quota",
      labelNames: ["cluster"],
      registers,
    }),
    clusterFailures: new Counter<"cluster" | "reason">({
      name: "daotrain_cluster_failures_total",
      help: "Failures seen on a contributed cluster, by reason",
      labelNames: ["cluster", "reason"],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Zeroes every closed label set so that each series exists from the start: a dashboard query
 * (and `rate()`) then sees 0 rather than "no data" before the first event.
 */
function initializeClosedLabels(metrics: Metrics): void {
  for (const state of runStates) metrics.runs.set({ state }, 0);
  for (const phase of roundPhases) metrics.roundDuration.zero({ phase });
  for (const outcome of replicaOutcomes) metrics.replicas.inc({ outcome }, 0);
  for (const state of proposalStates) metrics.proposals.set({ state }, 0);
  for (const option of voteOptions) metrics.votes.inc({ option }, 0);
  for (const cause of refusalCauses) metrics.runsRefused.inc({ cause }, 0);
}

/** A fresh registry with every daotrain metric; tests use their own so they do not share counts. */
export function newMetrics(): Metrics {
  const metrics = createMetrics(new Registry());
  initializeClosedLabels(metrics);
  return metrics;
}

/** The process-wide metrics the worker and the CLI increment. */
export const metrics: Metrics = newMetrics();

/** Where the worker serves /metrics unless told otherwise; the scrape config in dashboards/ targets it. */
export const DEFAULT_METRICS_PORT = 9464;

export type MetricsServer = { url: string; port: number; close(): Promise<void> };

/** Serves `registry` on `http://host:port/metrics`; port 0 picks a free one. */
export async function startMetricsServer(
  port: number,
  host = "127.0.0.1",
  registry: Registry = metrics.registry,
): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: scrape /metrics\n");
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { "content-type": registry.contentType }).end(body),
      (error: unknown) => response.writeHead(500).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${bound}/metrics`,
    port: bound,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
