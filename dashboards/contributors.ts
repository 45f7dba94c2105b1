import { type DashboardSpec, query, stat, timeseries } from "./panels.ts";

export const contributorsDashboard: DashboardSpec = {
  uid: "daotrain-contributors",
  title: "daotrain / Contributors",
  description: "Contributed compute: GPU-hours donated, rewards credited, failures and cluster health",
  rows: [
    {
      title: "Donated compute and rewards",
      panels: [
        timeseries(
          "GPU-hours donated by contributor",
          "Verified GPU-hours credited to each contributor (owner address)",
          "h",
          query("sum by (contributor) (daotrain_gpu_seconds_total) / 3600", "{{contributor}}"),
        ),
        timeseries(
          "GPUs busy by contributor",
          "Verified GPU-seconds per second: how many GPUs each contributor keeps training",
          "short",
          query(
            "sum by (contributor) (rate(daotrain_gpu_seconds_total[$__rate_interval]))",
            "{{contributor}}",
          ),
        ),
        timeseries(
          "Rewards by contributor",
          "Tokens credited to each contributor",
          "short",
          query("sum by (contributor) (daotrain_rewards_tokens_total)", "{{contributor}}"),
        ),
      ],
    },
    {
      title: "Clusters",
      panels: [
        stat(
          "Healthy clusters",
          "Admitted clusters that answered their last health check",
          "short",
          query("sum(daotrain_cluster_healthy)", "healthy"),
          query("count(daotrain_cluster_healthy == 0)", "unhealthy"),
        ),
        timeseries(
          "Cluster health",
          "1 when the cluster answered its last health check",
          "short",
          query("daotrain_cluster_healthy", "{{cluster}}"),
        ),
        timeseries(
          "Free GPUs by cluster",
          "GPUs free under each cluster's quota",
          "short",
          query("daotrain_cluster_free_gpus", "{{cluster}}"),
        ),
      ],
    },
    {
      title: "Failures",
      panels: [
        timeseries(
          "Cluster failures by reason",
          "Failures per cluster and reason over the interval",
          "short",
          query(
            "sum by (cluster, reason) (increase(daotrain_cluster_failures_total[$__rate_interval]))",
            "{{cluster}}: {{reason}}",
          ),
        ),
        stat(
          "Failures since start by cluster",
          "Total failures seen on each cluster",
          "short",
          query("sum by (cluster) (daotrain_cluster_failures_total)", "{{cluster}}"),
        ),
      ],
    },
  ],
};
