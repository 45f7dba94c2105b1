import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunStatus } from "../../workflows/types.ts";
import { startWatchedStack, type WatchedStack } from "./stack.ts";
import { provesTheRunStory } from "./story.ts";

// A DAO decision becomes a trained, committed and released checkpoint: real anvil with the DAO,
// a real Temporal server and worker, real trainer processes on two local executors.

let stack: WatchedStack;

beforeAll(async () => {
  stack = await startWatchedStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe("end to end on local executors", () => {
  test("a run approved by DAO vote trains 3 rounds, commits the stored checkpoints' roots, credits each owner its accepted GPU-seconds, and its release vote publishes the last checkpoint; the CLI and /metrics report the same run", async () => {
    const { runId, status } = await provesTheRunStory(stack, 3);

    // The operator's view of the same run, through the CLI and the codec key.
    const cli = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [cli, "run", "status", runId, "--json"], {
      env: { ...process.env, ...stack.processEnv },
    });
    const shown = JSON.parse(stdout) as RunStatus;
    expect(shown).toMatchObject({ runId, state: "completed", committedRounds: 3 });
    expect(shown.recent.map((r) => r.root)).toEqual(status.recent.map((r) => r.root));

    // And the worker's /metrics counted the same story.
    const scrape = await (await fetch(stack.worker.metricsServer.url)).text();
    const value = (series: string) => {
      const line = scrape.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value("daotrain_rounds_committed_total")).toBe(3);
    expect(value('daotrain_replicas_total{outcome="accepted"}')).toBe(12);
    expect(value('daotrain_chain_transactions_total{method="commitRound",status="success"}')).toBe(3);
    const credited = Object.values(stack.owners).map(
      (owner) => value(`daotrain_gpu_seconds_total{contributor="${owner}"}`) ?? 0,
    );
    expect(credited.reduce((a, b) => a + b, 0)).toBe(status.gpuSecondsUsed);
  });
});
