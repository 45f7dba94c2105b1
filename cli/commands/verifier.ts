import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { connect } from "../../governance/chain.ts";
import { defaultConfirmations } from "../../governance/watcher.ts";
import { openStore, s3OptionsFromEnv } from "../../storage/index.ts";
import { newVerifierMetrics } from "../../verifier/metrics.ts";
import { NotAVerifierError, runVerifier } from "../../verifier/verifier.ts";
import { startMetricsServer } from "../../workers/metrics.ts";
import { CliError } from "../program.ts";
import { roundNumber } from "./download.ts";
import { type SignerOptions, signingKey, withSignerOptions } from "./signer.ts";

interface VerifierCliOptions extends SignerOptions {
  rpc?: string;
  deployment?: string;
  workDir: string;
  store?: string;
  evidenceStore?: string;
  fromBlock?: number;
  confirmations?: number;
  pollSeconds: number;
  retrySeconds: number;
  metricsPort: number;
  metricsHost: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > 65_535)
    throw new InvalidArgumentError("must be a port number (0 picks a free one)");
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400)
    throw new InvalidArgumentError("must be seconds, above 0 and at most a day");
  return n;
}

export function register(program: Command): void {
  withSignerOptions(
    program
      .command("verifier")
      .description(
        "run a verifier the DAO appointed until SIGINT/SIGTERM: follow committed rounds on the chain, audit each " +
          "(as `daotrain audit`), and attest it or dispute it with the audit as evidence; run-store keys from AWS_*",
      )
      .option("--rpc <url>", "chain RPC URL (default: the deployment's)")
      .option(
        "--deployment <file>",
        "daotrain deployment file (default: DAOTRAIN_DEPLOYMENT or .daotrain/deployment.json)",
      )
      .option(
        "--work-dir <dir>",
        "staged inputs, recomputed checkpoints and the audits.jsonl journal",
        ".daotrain/verifier",
      )
      .option("--store <uri>", "read the run store here rather than where committed manifests are (a mirror)")
      .option(
        "--evidence-store <uri>",
        "publish dispute evidence here (file:// or s3://); default: inline data: URIs",
      )
      .option(
        "--from-block <n>",
        "first block to follow commits from (default: the deployment's)",
        roundNumber,
      )
      .option(
        "--confirmations <n>",
        "blocks a commit must be under before it is audited (default: 0 on anvil, 12 elsewhere)",
        roundNumber,
      )
      .option("--poll-seconds <s>", "wait between looks at the chain", seconds, 5)
      .option(
        "--retry-seconds <s>",
        "wait before auditing again a round whose inputs could not be read",
        seconds,
        60,
      )
      .option("--metrics-port <port>", "serve Prometheus /metrics here (0: a free port)", port, 9465)
      .option("--metrics-host <host>", "address /metrics listens on", "127.0.0.1"),
  ).action(async (options: VerifierCliOptions) => {
    const privateKey = await signingKey(options);
    if (!privateKey)
      throw new CliError(
        "the verifier signs its attestations: pass --keystore FILE (with --password-file) or set DAOTRAIN_KEY",
      );
    const governance = await connect({ rpcUrl: options.rpc, deploymentFile: options.deployment, privateKey });
    const metrics = newVerifierMetrics();
    const server = await startMetricsServer(options.metricsPort, options.metricsHost, metrics.registry);
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`daotrain verifier: ${signal}, stopping after the step in hand\n`);
      stop.abort();
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    process.stderr.write(`daotrain verifier: metrics on ${server.url}\n`);
    try {
      await runVerifier({
        governance,
        workDir: resolve(options.workDir),
        store: { s3: s3OptionsFromEnv() },
        ...(options.store ? { storeUri: options.store } : {}),
        ...(options.evidenceStore ? { evidenceStore: openStore(options.evidenceStore) } : {}),
        confirmations: options.confirmations ?? defaultConfirmations(governance.chain.id),
        ...(options.fromBlock !== undefined ? { fromBlock: options.fromBlock } : {}),
        pollSeconds: options.pollSeconds,
        retrySeconds: options.retrySeconds,
        metrics,
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
        signal: stop.signal,
      });
    } catch (error) {
      if (error instanceof NotAVerifierError) throw new CliError(error.message);
      throw error;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await server.close();
    }
  });
}
