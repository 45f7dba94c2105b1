import { access } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { MANIFEST_FILE, verifyCheckpoint } from "../../checkpoints/index.ts";
import {
  CheckpointNotReleasedError,
  chainCheckpoint,
  RootMismatchError,
  releasedRoundNumbers,
  releaseError,
  releaseFacts,
  ShardCorruptError,
  selects,
} from "../../download/index.ts";
import { connect, type Governance } from "../../governance/chain.ts";
import { RELEASE_MANIFEST_FILE, type ReleaseFileName, readReleaseManifest } from "../../release/manifest.ts";
import { type ReleaseFileCheck, verifyRelease } from "../../release/verify.ts";
import { parseWith } from "../../spec/errors.ts";
import { Bytes32 } from "../../spec/runSpec.ts";
import { collect, roundNumber, withDownloadExitCodes } from "./download.ts";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

export interface VerifiedCopy {
  dir: string;
  kind: "release" | "checkpoint";
  runId: Bytes32;
  round: number;
  root: Bytes32;
  /** Per file: present, proven, and against what (a raw checkpoint's shards are covered by the root). */
  files: readonly ReleaseFileCheck[] | readonly { path: string; ok: boolean; coveredBy: string }[];
}

export interface VerifyCopyOptions {
  runId?: Bytes32;
  round?: number;
  include?: string[];
  exclude?: string[];
}

/**
 * Proves a local copy (a release directory or a raw checkpoint, however it was obtained) against
 * the chain: the round must be committed and released by the DAO; every file present that the
 * globs select is checked. The run and round default to what the copy's release.json names,
 * which is only a hint: everything is then checked against the chain's record of them.
 */
export async function verifyCopy(
  governance: Governance,
  dir: string,
  options: VerifyCopyOptions,
): Promise<VerifiedCopy> {
  const isRelease = await exists(join(dir, RELEASE_MANIFEST_FILE));
  if (!isRelease && !(await exists(join(dir, MANIFEST_FILE))))
    throw new ShardCorruptError(dir, [`${dir} holds neither ${RELEASE_MANIFEST_FILE} nor ${MANIFEST_FILE}`]);
  const named = isRelease ? await readReleaseManifest(dir).catch(() => undefined) : undefined;
  const runId = options.runId ?? named?.runId;
  if (!runId)
    throw new ShardCorruptError(dir, ["name the run with --run: the copy does not say which it is"]);
  const round = options.round ?? named?.round ?? (await releasedRoundNumbers(governance, runId)).at(-1);
  const checkpoint = await chainCheckpoint(governance, runId, round ?? 0);
  if (!checkpoint.released)
    throw new CheckpointNotReleasedError(
      runId,
      checkpoint.round,
      await releasedRoundNumbers(governance, runId),
    );
  const chosen = selects({ include: options.include, exclude: options.exclude });
  if (!isRelease) {
    const verification = await verifyCheckpoint(dir, checkpoint.root);
    if (!verification.ok)
      throw new RootMismatchError(
        `${dir} is not what the chain committed: ${verification.problems.join("; ")}`,
      );
    const files = verification.shards.map((s) => ({ path: s.path, ok: s.ok, coveredBy: "checkpoint root" }));
    return { dir, kind: "checkpoint", runId, round: checkpoint.round, root: checkpoint.root, files };
  }
  const present = new Set<string>();
  for (const entry of named?.files ?? []) if (await exists(join(dir, entry.path))) present.add(entry.path);
  const wanted = (path: ReleaseFileName) => present.has(path) && chosen(path);
  const verification = await verifyRelease(
    dir,
    { runId, round: checkpoint.round, checkpointRoot: checkpoint.root },
    await releaseFacts(governance, runId, checkpoint.round),
    wanted,
  );
  if (!verification.ok) throw releaseError(dir, verification);
  if (!verification.files.some((f) => f.ok))
    throw new ShardCorruptError(dir, [
      "no file of the release is present (or selected by --include/--exclude)",
    ]);
  return {
    dir,
    kind: "release",
    runId,
    round: checkpoint.round,
    root: checkpoint.root,
    files: verification.files,
  };
}

/** What names and reaches the release a local copy is checked against (verify and sample). */
export interface CopyOptions {
  run?: string;
  round?: number;
  rpc?: string;
  deployment?: string;
  json?: boolean;
}

/** Adds --run, --round, --rpc, --deployment and --json. */
export function withCopyOptions(command: Command): Command {
  return command
    .option(
      "--run <id>",
      "the run id (default: the one the copy's release.json names, checked against the chain)",
    )
    .option("--round <n>", "the released round (default: the copy's, else the latest released)", roundNumber)
    .option("--rpc <url>", "chain RPC URL (default: the deployment's)")
    .option("--deployment <file>", "daotrain deployment file (default: .daotrain/deployment.json)")
    .option("--json", "print the result as JSON");
}

/** Connects to the chain the options name and proves the copy, failing with the download's exit codes. */
export async function verifyCopyWith(
  dir: string,
  options: CopyOptions,
  selection: Pick<VerifyCopyOptions, "include" | "exclude">,
): Promise<VerifiedCopy> {
  const runId = options.run === undefined ? undefined : parseWith(Bytes32, options.run, "--run");
  const governance = await connect({ rpcUrl: options.rpc, deploymentFile: options.deployment });
  return withDownloadExitCodes(() =>
    verifyCopy(governance, dir, { runId, round: options.round, ...selection }),
  );
}

interface VerifyOptions extends CopyOptions {
  include?: string[];
  exclude?: string[];
}

function printVerified(copy: VerifiedCopy, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(copy, null, 2)}\n`);
    return;
  }
  const width = Math.max(...copy.files.map((f) => f.path.length));
  const lines = copy.files.map((f) => {
    const state = !("present" in f) || f.present ? (f.ok ? "verified" : "skipped ") : "absent  ";
    return `  ${f.path.padEnd(width)}  ${state}  ${f.ok ? `against the ${f.coveredBy}` : ""}`.trimEnd();
  });
  process.stdout.write(
    `${copy.dir}: run ${copy.runId} round ${copy.round} (released), checkpoint root ${copy.root}\n${lines.join("\n")}\n`,
  );
}

export function register(program: Command): void {
  const command = program
    .command("verify")
    .description(
      "verify a local copy of a released model (from a mirror, hf download, rsync…) against the chain, file by file",
    )
    .argument("<dir>", "the directory holding the copy (release.json, or a raw checkpoint's manifest.json)")
    .option("--include <glob>", "verify only the files matching this glob (repeatable)", collect)
    .option("--exclude <glob>", "skip the files matching this glob (repeatable)", collect);
  withCopyOptions(command)
    .addHelpText(
      "after",
      "\nEvery file present is verified; absent ones are listed. Exit codes: 0 verified, 1 failed,\n" +
        "2 wrong command line, 3 not released, 4 not what the chain committed, 5 a file corrupt or missing,\n" +
        "6 release.json invalid.",
    )
    .action(async (dir: string, options: VerifyOptions) => {
      const copy = await verifyCopyWith(dir, options, { include: options.include, exclude: options.exclude });
      printVerified(copy, options.json === true);
    });
}
