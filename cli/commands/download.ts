import { type Command, InvalidArgumentError } from "commander";
import {
  chainCheckpoint,
  DownloadError,
  type DownloadProgress,
  type DownloadResult,
  downloadCheckpoint,
  pickReleasedRound,
  progressBar,
  releasedRoundNumbers,
} from "../../download/index.ts";
import { connect } from "../../governance/chain.ts";
import { parseWith } from "../../spec/errors.ts";
import { Bytes32 } from "../../spec/runSpec.ts";
import { CliError } from "../program.ts";

function roundNumber(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError("must be a whole number");
  return Number(value);
}

function printResult(result: DownloadResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const resumed = result.resumedBytes > 0 ? `, ${result.resumedBytes} resumed` : "";
  process.stdout.write(
    `verified run ${result.runId} round ${result.round}: root ${result.root}\n` +
      `${result.shards.length} shard(s), ${result.totalBytes} bytes${resumed}, in ${result.seconds.toFixed(1)} s\n` +
      `written to ${result.out} (check with: cd ${result.out} && sha256sum -c SHA256SUMS)\n`,
  );
}

interface DownloadOptions {
  round?: number;
  manifest?: string;
  out?: string;
  rpc?: string;
  deployment?: string;
  concurrency: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("download")
    .description(
      "download a released checkpoint: read its root from the chain, fetch the shards in parallel " +
        "(resuming a partial download), verify every shard and the root, then write the files",
    )
    .argument("<runId>", "the run id (0x + 64 hex digits)")
    .option("--round <n>", "the round to download (default: the latest released)", roundNumber)
    .option("--out <dir>", "directory to create (default: ./<run>-round-<n>)")
    .option("--rpc <url>", "chain RPC URL (default: the deployment's)")
    .option("--deployment <file>", "daotrain deployment file (default: .daotrain/deployment.json)")
    .option(
      "--manifest <uri>",
      "fetch from this copy of the manifest (file:// or s3://, shards beside it) instead of the URI on-chain; " +
        "it is verified against the chain's root all the same",
    )
    .option("--concurrency <n>", "shards fetched at once", roundNumber, 4)
    .option("--json", "print the result as JSON and no progress bar")
    .addHelpText(
      "after",
      "\nExit codes: 0 verified and written, 1 failed, 2 wrong command line, 3 not released,\n" +
        "4 manifest root differs from the chain, 5 shard corrupt or truncated, 6 manifest invalid,\n" +
        "7 store unavailable, 8 output directory not empty.\n" +
        "S3 stores: AWS_ENDPOINT_URL_S3 (self-hosted), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.",
    )
    .action(async (runIdArgument: string, options: DownloadOptions) => {
      const runId = parseWith(Bytes32, runIdArgument, "runId");
      const governance = await connect({ rpcUrl: options.rpc, deploymentFile: options.deployment });
      const bar = options.json ? undefined : progressBar(process.stderr);
      let last: DownloadProgress | undefined;
      let result: DownloadResult;
      try {
        const round = await pickReleasedRound(governance, runId, options.round);
        const recorded = await chainCheckpoint(governance, runId, round);
        // A mirror is as good as the original: only the chain's root is trusted.
        const checkpoint = { ...recorded, manifestUri: options.manifest ?? recorded.manifestUri };
        result = await downloadCheckpoint({
          checkpoint,
          releasedRounds: () => releasedRoundNumbers(governance, runId),
          out: options.out ?? `${runId.slice(0, 10)}-round-${round}`,
          concurrency: options.concurrency,
          onProgress: (progress) => {
            last = progress;
            bar?.update(progress);
          },
        });
      } catch (error) {
        if (error instanceof DownloadError) throw new CliError(error.message, error.exitCode);
        throw error;
      }
      if (bar && last) bar.finish(last);
      printResult(result, options.json === true);
    });
}
