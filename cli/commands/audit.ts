import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { connect } from "../../governance/chain.ts";
import { latestCommittedRound } from "../../governance/reads.ts";
import { parseWith } from "../../spec/errors.ts";
import { Bytes32 } from "../../spec/runSpec.ts";
import { s3OptionsFromEnv } from "../../storage/index.ts";
import { AuditExitCode, type AuditReport, auditRound, RoundNotCommittedError } from "../../verifier/audit.ts";
import { CliError } from "../program.ts";
import { roundNumber } from "./download.ts";
import { printJson } from "./governanceOptions.ts";

interface AuditOptions {
  round?: number;
  store?: string;
  workDir?: string;
  rpc?: string;
  deployment?: string;
  json?: boolean;
}

/** The audit for a person: one line for a match, the first finding and its values otherwise. */
function describe(report: AuditReport): string {
  const what = `run ${report.runId} round ${report.round}`;
  const took = `(audited in ${report.seconds.toFixed(1)} s)`;
  if (report.outcome === "match")
    return `${what}: the committed root ${report.committed.root} is the round's, redone from its record ${took}\n`;
  const f = report.finding;
  const lines = [
    `${what}: ${report.outcome === "differs" ? "DIFFERS" : "cannot be audited now"} ${took}`,
    `  ${f?.subject}: recorded ${f?.recorded}, ${report.outcome === "differs" ? "recomputed" : "found"} ${f?.recomputed}`,
    `  ${f?.message}`,
    ...report.findings.slice(1).map((g) => `  also ${g.subject}: ${g.recorded} → ${g.recomputed}`),
  ];
  return `${lines.join("\n")}\n`;
}

export function register(program: Command): void {
  program
    .command("audit")
    .description(
      "redo a committed round from its round record, its parent, the replica outputs and the held-out shards, " +
        "with the worker's own code, and compare with what the chain commits",
    )
    .argument("<runId>", "the run id (0x + 64 hex digits)")
    .option("--round <n>", "the round to audit (default: the latest committed)", roundNumber)
    .option(
      "--store <uri>",
      "read the run store here (file:// or s3://, with the AWS_* keys of the environment) rather than where the committed manifest is",
    )
    .option(
      "--work-dir <dir>",
      "where inputs are staged and the round recomputed (default: a temp directory)",
    )
    .option("--rpc <url>", "chain RPC URL (default: the deployment's)")
    .option(
      "--deployment <file>",
      "daotrain deployment file (default: DAOTRAIN_DEPLOYMENT or .daotrain/deployment.json)",
    )
    .option("--json", "print the audit as JSON on stdout (progress stays on stderr)")
    .addHelpText(
      "after",
      `\nExit codes: ${AuditExitCode.match} the committed root is the round's, ${AuditExitCode.differs} it differs (the first replica verdict, measure\n` +
        `or tensor that differs is named), ${AuditExitCode.unavailable} the round's inputs cannot be read now (try again), 1 failed, 2 wrong command line.`,
    )
    .action(async (runIdArgument: string, options: AuditOptions) => {
      const runId = parseWith(Bytes32, runIdArgument, "runId");
      const governance = await connect({ rpcUrl: options.rpc, deploymentFile: options.deployment });
      const round = options.round ?? (await latestCommittedRound(governance, runId));
      if (round === undefined) throw new CliError(`run ${runId} has no committed round to audit`);
      let report: AuditReport;
      try {
        report = await auditRound({
          governance,
          runId,
          round,
          workDir: resolve(options.workDir ?? join(tmpdir(), "daotrain-audit")),
          ...(options.store ? { storeUri: options.store } : {}),
          store: { s3: s3OptionsFromEnv() },
          onProgress: (line) => process.stderr.write(`${line}\n`),
        });
      } catch (error) {
        if (error instanceof RoundNotCommittedError) throw new CliError(error.message);
        throw error;
      }
      if (options.json) printJson(report);
      else process.stdout.write(describe(report));
      if (report.outcome !== "match")
        throw new CliError(
          `${report.outcome === "differs" ? "differs" : "cannot be audited now"}: ${report.finding?.subject}: ${report.finding?.message}`,
          AuditExitCode[report.outcome],
        );
    });
}
