import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

/** One series of an instant query's answer. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A real Prometheus (Debian's `prometheus`) with a temp TSDB on a free loopback port. */
export interface Prometheus {
  url: string;
  process: ManagedProcess;
  /** Runs an instant PromQL query; throws with Prometheus's own error when the query is invalid. */
  query(expr: string): Promise<PromSample[]>;
  /** Waits until every scrape target is up and has been scraped at least `scrapes` times. */
  waitForScrapes(scrapes: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export class PromQueryError extends Error {
  override readonly name = "PromQueryError";
}

/** Starts Prometheus with `config` (the object form of prometheus.yml) and waits until it is ready. */
export async function startPrometheus(config: object): Promise<Prometheus> {
  const binary = await requireTool("prometheus");
  const dir = await mkdtemp(join(tmpdir(), "daotrain-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = startProcess({
    name: "prometheus",
    command: binary,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
  });
  const stop = async () => {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady("prometheus", async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), {
      timeoutMs: 60_000,
      process: child,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const query = async (expr: string): Promise<PromSample[]> => {
    const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: PromSample[] };
    };
    if (body.status !== "success") throw new PromQueryError(`${expr}: ${body.error ?? response.statusText}`);
    if (body.data?.resultType !== "vector") throw new PromQueryError(`${expr}: not an instant vector`);
    return body.data.result;
  };
  return {
    url,
    process: child,
    query,
    async waitForScrapes(scrapes, timeoutMs = 60_000) {
      await waitUntilReady(
        `${scrapes} scrapes by prometheus`,
        async () => {
          const counts = await query("count_over_time(up[10m])");
          const ups = await query("up");
          const ready =
            ups.length > 0 &&
            ups.every((sample) => sample.value[1] === "1") &&
            counts.every((sample) => Number(sample.value[1]) >= scrapes);
          return ready ? true : undefined;
        },
        { timeoutMs, process: child, intervalMs: 250 },
      );
    },
    stop,
  };
}
