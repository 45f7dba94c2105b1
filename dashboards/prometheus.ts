import { DEFAULT_METRICS_PORT } from "../workers/metrics.ts";

export interface PrometheusConfigOptions {
  /** `host:port` of each worker's metrics server. */
  targets?: string[];
  scrapeInterval?: string;
}

/** Prometheus's configuration for scraping daotrain workers (`prometheus.yml`). */
export function prometheusConfig(options: PrometheusConfigOptions = {}) {
  const scrapeInterval = options.scrapeInterval ?? "15s";
  return {
    global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval },
    scrape_configs: [
      {
        job_name: "daotrain-worker",
        metrics_path: "/metrics",
        static_configs: [{ targets: options.targets ?? [`localhost:${DEFAULT_METRICS_PORT}`] }],
      },
    ],
  };
}
