import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { hashCheckpoint } from "../../checkpoints/index.ts";
import type { DemoSummary } from "../../cli/commands/demoSummary.ts";
import { readReleaseManifest } from "../../release/manifest.ts";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

// The main job as a new user runs it (the real CLI in its own process), in its reduced size, with
// contributors on the local executor and on two simulated Kubernetes clusters.
describe.each(["local", "kubernetes"])("daotrain demo --reduced --clusters %s", (clusters) => {
  let workDir: string;
  let summary: DemoSummary;
  let progress: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "daotrain-demo-"));
    const { stdout, stderr } = await run(
      process.execPath,
      [cli, "demo", "--reduced", "--clusters", clusters, "--json", "--work-dir", workDir],
      { timeout: 8 * 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    summary = JSON.parse(stdout) as DemoSummary;
    progress = stderr;
  }, 9 * 60_000);
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  test("tells every step of the story with visible progress", () => {
    for (let step = 1; step <= 10; step++) expect(progress).toContain(`[${step}/10]`);
  });

  test("commits three rounds whose on-chain roots equal the roots recomputed from the stored checkpoints", async () => {
    expect(summary.rounds.map((r) => r.round)).toHaveLength(3);
    for (const round of summary.rounds) {
      const recomputed = await hashCheckpoint(dirname(fileURLToPath(round.manifestUri)));
      expect(recomputed.root).toBe(round.root);
      expect(Number.isFinite(round.valLoss)).toBe(true);
    }
  });

  test("the released model is downloaded in the Hugging Face layout, verified against the released root, and sampled", async () => {
    const released = summary.rounds.filter((r) => r.released);
    expect(released.map((r) => r.round)).toEqual([summary.rounds.at(-1)?.round]);
    expect(summary.download.root).toBe(released[0]?.root);
    const manifest = await readReleaseManifest(summary.download.out);
    expect(manifest.checkpointRoot).toBe(summary.download.root);
    const sums = await readFile(join(summary.download.out, "SHA256SUMS"), "utf8");
    expect(sums).toMatch(/model\.safetensors/);
    expect(sums).toMatch(/config\.json/);
    expect(summary.sample.continuation.length).toBeGreaterThan(0);
    expect(progress).toContain(summary.sample.prompt + summary.sample.continuation);
  });

  test("both contributors are credited for their GPU-seconds and claim rewards", () => {
    expect(summary.contributors).toHaveLength(2);
    const ledgerSeconds = summary.rounds.reduce((sum, r) => sum + r.gpuSeconds, 0);
    expect(summary.contributors.reduce((sum, c) => sum + c.gpuSeconds, 0)).toBe(ledgerSeconds);
    for (const contributor of summary.contributors) {
      expect(contributor.gpuSeconds).toBeGreaterThan(0);
      expect(Number(contributor.rewardTokens)).toBeGreaterThan(0);
      expect(contributor.claimTx).toMatch(/^0x[0-9a-f]{64}$/);
      expect(contributor.balanceTokens).toBe(contributor.rewardTokens);
    }
  });
});
