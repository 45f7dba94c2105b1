import type { Command } from "commander";
import { parseWorkerEnv } from "../../workers/config.ts";
import { runWorkerProcess } from "../../workers/main.ts";

/** `daotrain worker`: runs the orchestrator's Temporal worker, configured by its environment. */
export function register(program: Command): void {
  program
    .command("worker")
    .description(
      "run the orchestration worker until SIGINT/SIGTERM (env: TEMPORAL_ADDRESS and Temporal's other " +
        "client settings (TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE), DAOTRAIN_CODEC_KEYS, " +
        "DAOTRAIN_DEPLOYMENT, DAOTRAIN_OPERATOR_KEYSTORE + DAOTRAIN_OPERATOR_PASSWORD_FILE, DAOTRAIN_STORE_URI, DAOTRAIN_PUBLIC_STORE_URI, " +
        "DAOTRAIN_CLUSTERS; see workers/README.md)",
    )
    .action(async () => {
      await runWorkerProcess(parseWorkerEnv());
    });
}
