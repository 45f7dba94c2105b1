import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  type ChainCheckpoint,
  chainCheckpoint,
  DownloadError,
  type DownloadProgress,
  type DownloadResult,
  defaultRepoId,
  downloadCheckpoint,
  downloadRelease,
  hfCacheRepoFolder,
  pickReleasedRound,
  placeInHfCache,
  progressBar,
  type ReleaseDownloadResult,
  releasedRoundNumbers,
  releaseFacts,
} from "../../download/index.ts";
import { connect, type Governance } from "../../governance/chain.ts";
import { RELEASE_MANIFEST_FILE, readReleaseManifest } from "../../release/manifest.ts";
import { releasedSpec } from "../../release/verify.ts";
import { parseWith } from "../../spec/errors.ts";
import { Bytes32 } from "../../spec/runSpec.ts";
import { CliError, ExitCode } from "../program.ts";

export function roundNumber(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError("must be a whole number");
  return Number(value);
}

/** Collects a repeatable option's values (`--include a --include b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Runs a download-family action, turning its errors into their exit codes. */
export async function withDownloadExitCodes<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof DownloadError) throw new CliError(error.message, error.exitCode);
    throw error;
  }
}

/** A published release is a release.json; anything else the chain names is a raw checkpoint manifest. */
export function isRelease(manifestUri: string): boolean {
  return basename(manifestUri.split("?")[0]!) === RELEASE_MANIFEST_FILE;
}

type Downloaded =
  | { kind: "release"; result: ReleaseDownloadResult; snapshot?: string }
  | { kind: "checkpoint"; result: DownloadResult };

function printResult(downloaded: Downloaded, json: boolean): void {
  const { result } = downloaded;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ kind: downloaded.kind, ...result, ...(downloaded.kind === "release" && downloaded.snapshot ? { snapshot: downloaded.snapshot } : {}) }, null, 2)}\n`,
    );
    return;
  }
  const resumed = result.resumedBytes > 0 ? `, ${result.resumedBytes} resumed` : "";
  const files = downloaded.kind === "release" ? downloaded.result.files : downloaded.result.shards;
  const where = downloaded.kind === "release" && downloaded.snapshot ? downloaded.snapshot : result.out;
  process.stdout.write(
    `verified run ${result.runId} round ${result.round}: root ${result.root}\n` +
      `${files.length} file(s) (${files.map((f) => f.path).join(", ")}), ${result.totalBytes} bytes fetched${resumed}, in ${result.seconds.toFixed(1)} s\n` +
      `written to ${where} (check with: cd ${where} && sha256sum -c SHA256SUMS)\n`,
  );
}

interface DownloadOptions {
  round?: number;
  manifest?: string;
  out?: string;
  rpc?: string;
  deployment?: string;
  concurrency: number;
  include?: string[];
  exclude?: string[];
  hfCache?: string;
  hfRepo?: string;
  json?: boolean;
}

async function downloadPublished(
  governance: Governance,
  checkpoint: ChainCheckpoint,
  options: DownloadOptions,
  onProgress: (progress: DownloadProgress) => void,
): Promise<Downloaded> {
  const common = {
    checkpoint,
    releasedRounds: () => releasedRoundNumbers(governance, checkpoint.runId),
    concurrency: options.concurrency,
    onProgress,
  };
  const defaultOut = `${checkpoint.runId.slice(0, 10)}-round-${checkpoint.round}`;
  if (!isRelease(checkpoint.manifestUri)) {
    if (options.include || options.exclude || options.hfCache)
      throw new CliError(
        `round ${checkpoint.round} is not published as a release (${checkpoint.manifestUri} is a raw checkpoint): --include, --exclude and --hf-cache apply to releases`,
        ExitCode.usage,
      );
    return {
      kind: "checkpoint",
      result: await downloadCheckpoint({ ...common, out: options.out ?? defaultOut }),
    };
  }
  const release = {
    ...common,
    facts: () => releaseFacts(governance, checkpoint.runId, checkpoint.round),
    selection: { include: options.include, exclude: options.exclude },
  };
  if (!options.hfCache)
    return { kind: "release", result: await downloadRelease({ ...release, out: options.out ?? defaultOut }) };
  // Verified beside the cache's blobs (one filesystem), then moved into its layout.
  const staging = join(options.hfCache, `.daotrain-${checkpoint.root}`);
  await mkdir(options.hfCache, { recursive: true });
  const result = await downloadRelease({ ...release, out: staging });
  const repoId = options.hfRepo ?? defaultRepoId(releasedSpec(await readReleaseManifest(staging)).name);
  hfCacheRepoFolder(repoId);
  const placed = await placeInHfCache(staging, options.hfCache, repoId, checkpoint.root);
  process.stderr.write(
    `in the Hugging Face cache: from_pretrained(${JSON.stringify(repoId)}, revision=${JSON.stringify(placed.revision)}, cache_dir=${JSON.stringify(options.hfCache)}) loads it offline\n`,
  );
  return { kind: "release", result: { ...result, out: placed.snapshot }, snapshot: placed.snapshot };
}

export function register(program: Command): void {
  program
    .command("download")
    .description(
      "download a released model: read its root from the chain, fetch the files in parallel " +
        "(resuming a partial download), prove every file against the chain, then write them",
    )
    .argument("<runId>", "the run id (0x + 64 hex digits)")
    .option("--round <n>", "the round to download (default: the latest released)", roundNumber)
    .option("--out <dir>", "directory to create (default: ./<run>-round-<n>)")
    .option("--rpc <url>", "chain RPC URL (default: the deployment's)")
    .option("--deployment <file>", "daotrain deployment file (default: .daotrain/deployment.json)")
    .option(
      "--manifest <uri>",
      "fetch from this copy of release.json or manifest.json (file:// or s3://, files beside it) instead of the URI on-chain; " +
        "it is verified against the chain all the same",
    )
    .option("--include <glob>", "write only the files matching this glob (repeatable)", collect)
    .option("--exclude <glob>", "leave out the files matching this glob (repeatable)", collect)
    .option(
      "--hf-cache <dir>",
      "place the files in this Hugging Face cache (models--<org>--<name>/snapshots/<root>/, blobs/, refs/) " +
        "so that from_pretrained(name, revision=<root>) loads them offline",
    )
    .option(
      "--hf-repo <org/name>",
      "the repository id in the Hugging Face cache (default: daotrain/<run name>)",
    )
    .option("--concurrency <n>", "files fetched at once", roundNumber, 4)
    .option("--json", "print the result as JSON and no progress bar")
    .addHelpText(
      "after",
      "\nExit codes: 0 verified and written, 1 failed, 2 wrong command line, 3 not released,\n" +
        "4 not what the chain committed, 5 a file corrupt, truncated or missing, 6 manifest invalid,\n" +
        "7 store unavailable, 8 output directory not empty.\n" +
        "S3 stores: AWS_ENDPOINT_URL_S3 (self-hosted), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.",
    )
    .action(async (runIdArgument: string, options: DownloadOptions) => {
      const runId = parseWith(Bytes32, runIdArgument, "runId");
      if (options.hfRepo) hfCacheRepoFolder(options.hfRepo);
      const governance = await connect({ rpcUrl: options.rpc, deploymentFile: options.deployment });
      const bar = options.json ? undefined : progressBar(process.stderr);
      let last: DownloadProgress | undefined;
      const downloaded = await withDownloadExitCodes(async () => {
        const round = await pickReleasedRound(governance, runId, options.round);
        const recorded = await chainCheckpoint(governance, runId, round);
        // A mirror is as good as the original: only the chain is trusted.
        const checkpoint = { ...recorded, manifestUri: options.manifest ?? recorded.manifestUri };
        return downloadPublished(governance, checkpoint, options, (progress) => {
          last = progress;
          bar?.update(progress);
        });
      });
      if (bar && last) bar.finish(last);
      printResult(downloaded, options.json === true);
    });
}
