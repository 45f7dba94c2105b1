import type { Address, Hex } from "viem";
import type { CommittedRound, Sample } from "../../localstack/story.ts";

/** What `daotrain demo` ends with; `--json` prints exactly this. */
export interface DemoSummary {
  runId: Hex;
  datasetRoot: Hex;
  /** Read back from the chain, not from the worker's memory. */
  rounds: CommittedRound[];
  contributors: Array<{
    name: string;
    owner: Address;
    gpuSeconds: number;
    rewardTokens: string;
    balanceTokens: string;
    claimTx: Hex | undefined;
  }>;
  download: { out: string; root: Hex; bytes: number };
  /** What the released model wrote when the downloader sampled it. */
  sample: Sample;
  temporalUi: string | undefined;
  metricsUrl: string;
  workDir: string;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function printSummary(summary: DemoSummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  const rounds = table(
    ["round", "loss", "val loss", "GPU-s", "released", "root (on-chain)", "commit tx"],
    summary.rounds.map((r) => [
      String(r.round),
      r.loss.toFixed(4),
      r.valLoss.toFixed(4),
      String(r.gpuSeconds),
      r.released ? "yes" : "",
      r.root,
      r.commitTx ?? "",
    ]),
  );
  const contributors = table(
    ["contributor", "owner", "GPU-s", "reward (tokens)", "claim tx"],
    summary.contributors.map((c) => [c.name, c.owner, String(c.gpuSeconds), c.rewardTokens, c.claimTx ?? ""]),
  );
  process.stdout.write(
    [
      "",
      `run ${summary.runId} on dataset ${summary.datasetRoot}`,
      "",
      rounds,
      "",
      contributors,
      "",
      `downloaded and verified: ${summary.download.out} (${summary.download.bytes} bytes, root ${summary.download.root})`,
      `sampled (temperature ${summary.sample.temperature}, seed ${summary.sample.seed}): ${JSON.stringify(summary.sample.prompt + summary.sample.continuation)}`,
      "",
    ].join("\n"),
  );
}
