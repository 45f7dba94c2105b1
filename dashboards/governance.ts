import { type DashboardSpec, query, stat, timeseries } from "./panels.ts";

export const governanceDashboard: DashboardSpec = {
  uid: "daotrain-governance",
  title: "daotrain / Governance",
  description:
    "The DAO and the chain: proposals, votes, checkpoint commits and releases, transactions and gas",
  rows: [
    {
      title: "DAO",
      panels: [
        stat(
          "Proposals by state",
          "DAO proposals the worker follows, by state",
          "short",
          query("sum by (state) (daotrain_proposals)", "{{state}}"),
        ),
        stat(
          "Votes by option",
          "Votes cast on DAO proposals",
          "short",
          query("sum by (option) (daotrain_votes_total)", "{{option}}"),
        ),
        stat(
          "Commits and releases",
          "Checkpoint roots committed on-chain and checkpoints released by vote",
          "short",
          query("sum(daotrain_rounds_committed_total)", "committed"),
          query("sum(daotrain_checkpoints_released_total)", "released"),
        ),
        stat(
          "Runs refused",
          "Runs approved on-chain that the orchestrator refused to start, by cause (spec unreadable, invalid, not the approved one; budget below one round)",
          "short",
          query("sum by (cause) (daotrain_runs_refused_total)", "{{cause}}"),
        ),
      ],
    },
    {
      title: "Chain",
      panels: [
        timeseries(
          "Transactions by method and status",
          "Transactions sent per minute: success, reverted, error",
          "short",
          query(
            "sum by (method, status) (rate(daotrain_chain_transactions_total[$__rate_interval])) * 60",
            "{{method}} {{status}}",
          ),
        ),
        timeseries(
          "Gas used by method",
          "Gas per minute spent by each contract method",
          "short",
          query("sum by (method) (rate(daotrain_chain_gas_used_total[$__rate_interval])) * 60", "{{method}}"),
        ),
        timeseries(
          "Commits and releases over time",
          "Checkpoint roots committed and checkpoints released",
          "short",
          query("sum(daotrain_rounds_committed_total)", "committed"),
          query("sum(daotrain_checkpoints_released_total)", "released"),
        ),
      ],
    },
  ],
};
