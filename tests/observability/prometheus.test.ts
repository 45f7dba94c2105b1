import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prometheusConfig } from "../../dashboards/prometheus.ts";
import { type MetricsServer, metrics, startMetricsServer } from "../../workers/metrics.ts";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import {
  committedPanelQueries,
  metricNames,
  type PanelQuery,
  withGrafanaVariables,
} from "./dashboardQueries.ts";

const owners = ["0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"];

/** What a worker records during rounds: the same metric calls the activities make. */
function recordWorkerActivity(): void {
  metrics.runs.set({ state: "running" }, 1);
  for (const phase of ["launch", "train", "aggregate", "commit", "total"] as const) {
    metrics.roundDuration.observe({ phase }, 1 + Math.random() * 30);
  }
  metrics.roundsCommitted.inc();
  metrics.replicas.inc({ outcome: "accepted" }, 3);
  metrics.replicas.inc({ outcome: "rejected" });
  metrics.replicaRejections.inc({ reason: "no-progress" });
  metrics.checkpointLoss.set({ split: "train" }, 2.5 + Math.random());
  metrics.checkpointLoss.set({ split: "val" }, 2.7 + Math.random());
  owners.forEach((contributor, index) => {
    metrics.gpuSeconds.inc({ contributor }, 120 * (index + 1));
    metrics.rewardsTokens.inc({ contributor }, index + 1);
  });
  metrics.hashBytes.inc(64 * 1024 * 1024);
  metrics.hashDuration.inc(0.05);
  metrics.chainTransactions.inc({ method: "commitRound", status: "success" });
  metrics.chainGasUsed.inc({ method: "commitRound" }, 84_000);
  metrics.proposals.set({ state: "active" }, 1);
  metrics.proposals.set({ state: "executed" }, 2);
  metrics.votes.inc({ option: "yes" }, 2);
  metrics.checkpointsReleased.inc();
  metrics.clusterHealthy.set({ cluster: "alpha" }, 1);
  metrics.clusterHealthy.set({ cluster: "beta" }, 0);
  metrics.clusterFreeGpus.set({ cluster: "alpha" }, 6);
  metrics.clusterFreeGpus.set({ cluster: "beta" }, 0);
  metrics.clusterFailures.inc({ cluster: "beta", reason: "unreachable" });
}

let server: MetricsServer;
let prometheus: Prometheus;
let activity: NodeJS.Timeout;
let queries: PanelQuery[];

beforeAll(async () => {
  queries = await committedPanelQueries();
  server = await startMetricsServer(0);
  recordWorkerActivity();
  activity = setInterval(recordWorkerActivity, 400);
  // The committed scrape config, with its target rewritten to this test's metrics server.
  prometheus = await startPrometheus(
    prometheusConfig({ targets: [`127.0.0.1:${server.port}`], scrapeInterval: "1s" }),
  );
  await prometheus.waitForScrapes(4);
});

afterAll(async () => {
  clearInterval(activity);
  await prometheus?.stop();
  await server?.close();
});

describe("the committed dashboards against a Prometheus scraping a worker's metrics server", () => {
  it("has panels on every dashboard, and every panel reads only metrics the worker exports", async () => {
    const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name));
    expect(new Set(queries.map((q) => q.dashboard)).size).toBe(3);
    for (const q of queries) {
      expect(metricNames(q.expr).length, `${q.dashboard} / ${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      for (const name of metricNames(q.expr)) expect(exported, `${q.dashboard} / ${q.panel}`).toContain(name);
    }
  });

  it("shows every exported metric on some dashboard", async () => {
    const used = new Set(queries.flatMap((q) => metricNames(q.expr)));
    for (const metric of await metrics.registry.getMetricsAsJSON()) expect(used).toContain(metric.name);
  });

  it("returns at least one series for every panel's PromQL expression", async () => {
    const empty: string[] = [];
    for (const q of queries) {
      const series = await prometheus.query(withGrafanaVariables(q.expr));
      if (series.length === 0) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
    }
    expect(empty).toEqual([]);
  });
});
