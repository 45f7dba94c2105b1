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
  /** The verifiers the DAO appointed: every released round needs all of their attestations. */
  verifiers: Array<{ name: string; address: Address; metricsUrl: string }>;
  /** What verifying cost: each round's audit by each verifier beside the worker's own aggregation. */
  audits: RoundAudits[];
  download: { out: string; root: Hex; bytes: number };
  /** What the released model wrote when the downloader sampled it. */
  sample: Sample;
  temporalUi: string | undefined;
  metricsUrl: string;
  workDir: string;
}

export interface RoundAudits {
  round: number;
  /** The worker's outer step for the round (workflow clock). */
  aggregateSeconds: number;
  audits: Array<{ verifier: string; outcome: "match" | "differs"; seconds: number }>;
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
    ["round", "loss", "val loss", "GPU-s", "attested", "released", "root (on-chain)", "commit tx"],
    summary.rounds.map((r) => [
      String(r.round),
      r.loss.toFixed(4),
      r.valLoss.toFixed(4),
      String(r.gpuSeconds),
      `${r.attesters.length} of ${r.attestationQuorum}`,
      r.released ? "yes" : "",
      r.root,
      r.commitTx ?? "",
    ]),
  );
  const names = summary.verifiers.map((v) => v.name);
  const audits = table(
    ["round", "worker's outer step (s)", ...names.map((n) => `${n} audit (s)`), "audit / outer step"],
    summary.audits.map((r) => {
      const seconds = names.map((n) => r.audits.find((a) => a.verifier === n));
      const slowest = Math.max(...seconds.map((a) => a?.seconds ?? 0));
      return [
        String(r.round),
        r.aggregateSeconds.toFixed(1),
        ...seconds.map((a) => (a ? `${a.seconds.toFixed(1)} ${a.outcome}` : "")),
        r.aggregateSeconds > 0 ? `${(slowest / r.aggregateSeconds).toFixed(2)}×` : "",
      ];
    }),
  );
  const verifiers = summary.verifiers.map((v) => `${v.name} ${v.address} (metrics ${v.metricsUrl})`);
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
      `verifiers: ${verifiers.join("; ")}`,
      audits,
      "",
      `downloaded and verified: ${summary.download.out} (${summary.download.bytes} bytes, root ${summary.download.root})`,
      `sampled (temperature ${summary.sample.temperature}, seed ${summary.sample.seed}): ${JSON.stringify(summary.sample.prompt + summary.sample.continuation)}`,
      "",
    ].join("\n"),
  );
}
