import { type DashboardSpec, query, stat, timeseries } from "./panels.ts";

const phases = "launch|train|aggregate|commit|total";

export const runDashboard: DashboardSpec = {
  uid: "daotrain-run",
  title: "daotrain / Run",
  description: "Training progress: checkpoint loss by round, round timing, replicas accepted and rejected",
  rows: [
    {
      title: "Progress",
      panels: [
        stat(
          "Runs by state",
          "Training runs the worker knows, by state",
          "short",
          query("sum by (state) (daotrain_runs)", "{{state}}"),
        ),
        stat(
          "Rounds committed",
          "Global checkpoints whose root is on-chain",
          "short",
          query("sum(daotrain_rounds_committed_total)", "rounds"),
        ),
        stat(
          "Latest val loss",
          "Held-out loss of the latest committed global checkpoint",
          "none",
          query('daotrain_checkpoint_loss{split="val"}', "val"),
        ),
      ],
    },
    {
      title: "Loss",
      panels: [
        timeseries(
          "Loss and val loss by round",
          "Train and held-out loss of each committed global checkpoint; each step is a round",
          "none",
          query('daotrain_checkpoint_loss{split="train"}', "train loss"),
          query('daotrain_checkpoint_loss{split="val"}', "val loss"),
        ),
        timeseries(
          "Rounds committed per hour",
          "How fast the run advances",
          "short",
          query("sum(rate(daotrain_rounds_committed_total[$__rate_interval])) * 3600", "rounds/h"),
        ),
      ],
    },
    {
      title: "Round timing",
      panels: [
        timeseries(
          "Round duration p90 by phase",
          "90th percentile of the time a round spends in each phase",
          "s",
          query(
            `histogram_quantile(0.9, sum by (le, phase) (rate(daotrain_round_duration_seconds_bucket{phase=~"${phases}"}[$__rate_interval])))`,
            "{{phase}}",
          ),
        ),
        timeseries(
          "Mean round duration by phase",
          "Mean time per phase over the interval",
          "s",
          query(
            "sum by (phase) (rate(daotrain_round_duration_seconds_sum[$__rate_interval])) / sum by (phase) (rate(daotrain_round_duration_seconds_count[$__rate_interval]))",
            "{{phase}}",
          ),
        ),
      ],
    },
    {
      title: "Replicas and checkpoints",
      panels: [
        timeseries(
          "Replicas by outcome",
          "Replicas that finished, by outcome: accepted into the aggregate, rejected by validation, failed, lost",
          "short",
          query("sum by (outcome) (increase(daotrain_replicas_total[$__rate_interval]))", "{{outcome}}"),
        ),
        stat(
          "Replicas accepted and rejected",
          "Totals since the worker started",
          "short",
          query('sum by (outcome) (daotrain_replicas_total{outcome=~"accepted|rejected"})', "{{outcome}}"),
        ),
        timeseries(
          "Rejected replicas by reason",
          "Why the outer step left replicas out and paid them nothing (diloco/README.md: unreadable, oversized, hash-mismatch, wrong-parent, shape, non-finite, norm-outlier, duplicate, no-progress, held-out-loss)",
          "short",
          query(
            "sum by (reason) (increase(daotrain_replica_rejections_total[$__rate_interval]))",
            "{{reason}}",
          ),
        ),
        timeseries(
          "Checkpoint hashing throughput",
          "Bytes hashed per second of hashing (recomputed roots of replica and global checkpoints)",
          "Bps",
          query(
            "rate(daotrain_hash_bytes_total[$__rate_interval]) / rate(daotrain_hash_duration_seconds_total[$__rate_interval])",
            "hashing",
          ),
        ),
      ],
    },
  ],
};
