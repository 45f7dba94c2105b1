import { mkdir, rm } from "node:fs/promises";
import { dirname, join, matchesGlob } from "node:path";
import type { ReleaseFacts } from "../release/card.ts";
import {
  RELEASE_FILES,
  RELEASE_MANIFEST_FILE,
  type ReleaseFileName,
  ReleaseManifest,
} from "../release/manifest.ts";
import { type ReleaseFileCheck, type ReleaseVerification, verifyRelease } from "../release/verify.ts";
import type { OpenStoreOptions } from "../storage/index.ts";
import {
  type ChainCheckpoint,
  type DownloadedShard,
  type FetchOptions,
  fetchIntoStaging,
  finishDownload,
  openDownload,
} from "./download.ts";
import { type DownloadError, ManifestInvalidError, RootMismatchError, ShardCorruptError } from "./errors.ts";

/** `--include` / `--exclude` globs (matched against file names); no include means every file. */
export interface FileSelection {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

export function selects(selection: FileSelection): (path: string) => boolean {
  const include = selection.include ?? [];
  const exclude = selection.exclude ?? [];
  return (path) =>
    (include.length === 0 || include.some((glob) => matchesGlob(path, glob))) &&
    !exclude.some((glob) => matchesGlob(path, glob));
}

export interface DownloadReleaseOptions extends FetchOptions {
  /** The released round as the chain records it; `manifestUri` is where release.json was published. */
  checkpoint: ChainCheckpoint;
  releasedRounds: () => Promise<number[]>;
  /** The chain's facts the model card states, read when the card is checked. */
  facts: () => Promise<ReleaseFacts>;
  out: string;
  store?: OpenStoreOptions;
  selection?: FileSelection;
}

export interface ReleaseDownloadResult {
  out: string;
  runId: `0x${string}`;
  round: number;
  /** The committed checkpoint root every file was proven against. */
  root: `0x${string}`;
  releaseRoot: `0x${string}`;
  manifestUri: string;
  files: DownloadedShard[];
  checks: readonly ReleaseFileCheck[];
  totalBytes: number;
  resumedBytes: number;
  seconds: number;
}

/** The download's error for the first thing a release verification found wrong. */
export function releaseError(where: string, verification: ReleaseVerification): DownloadError {
  const first = verification.problems[0];
  const messages = verification.problems.map((p) => p.message);
  if (!first) throw new Error("releaseError needs a failed verification");
  switch (first.kind) {
    case "manifestInvalid":
      return new ManifestInvalidError(`${where}: ${messages.join("; ")}`);
    case "rootMismatch":
      return new RootMismatchError(`${where} is not what the chain committed: ${messages.join("; ")}`);
    case "fileCorrupt":
      return new ShardCorruptError(where, messages);
  }
}

/** The weights are proven together (the committed shards rebuild from both), so wanting one fetches both. */
function filesToFetch(
  manifest: ReleaseManifest,
  wanted: (path: string) => boolean,
): ReleaseManifest["files"] {
  const weights: string[] = [RELEASE_FILES.weights, RELEASE_FILES.momentum];
  const anyWeights = manifest.files.some((f) => weights.includes(f.path) && wanted(f.path));
  return manifest.files.filter((f) => wanted(f.path) || (anyWeights && weights.includes(f.path)));
}

/**
 * Downloads a published release into `out` and proves every file it writes against the chain
 * (release/verify.ts): fetches the selected files (and what their proof needs) in parallel into
 * `<out>.partial/`, resuming an interrupted run, verifies them, drops what was fetched only for the
 * proof, writes SHA256SUMS, and only then renames the directory into place.
 */
export async function downloadRelease(options: DownloadReleaseOptions): Promise<ReleaseDownloadResult> {
  const { checkpoint: chain } = options;
  const started = Date.now();
  const wanted = selects(options.selection ?? {});
  const { out, manifestBytes, manifest, store } = await openDownload(options, ReleaseManifest);
  if (manifest.runId !== chain.runId || manifest.round !== chain.round)
    throw new ManifestInvalidError(
      `release ${chain.manifestUri} is for run ${manifest.runId} round ${manifest.round}, not run ${chain.runId} round ${chain.round}`,
    );
  if (manifest.checkpointRoot !== chain.root)
    throw new RootMismatchError(
      `release ${chain.manifestUri} was made from checkpoint ${manifest.checkpointRoot}, but the chain committed ${chain.root}`,
    );
  const selected = manifest.files.filter((f) => wanted(f.path));
  if (selected.length === 0)
    throw new ManifestInvalidError(
      `no file of the release matches the --include/--exclude globs (it has ${manifest.files.map((f) => f.path).join(", ")})`,
    );
  const fetched = filesToFetch(manifest, wanted);
  const written = { name: RELEASE_MANIFEST_FILE, bytes: manifestBytes, root: manifest.root };
  const { staging, progress } = await fetchIntoStaging(store, fetched, written, out, options, started);
  const verification = await verifyRelease(
    staging,
    { runId: chain.runId, round: chain.round, checkpointRoot: chain.root },
    await options.facts(),
    (path: ReleaseFileName) => wanted(path),
  );
  if (!verification.ok) {
    // These bytes are what the store serves: resuming them would only fail again.
    await rm(staging, { recursive: true, force: true });
    throw releaseError(`release ${chain.manifestUri}`, verification);
  }
  for (const file of fetched) if (!wanted(file.path)) await rm(join(staging, file.path));
  const files = selected.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 }));
  await mkdir(dirname(out), { recursive: true });
  await finishDownload(staging, out, files, written);
  return {
    out,
    runId: chain.runId,
    round: chain.round,
    root: chain.root,
    releaseRoot: manifest.root,
    manifestUri: chain.manifestUri,
    files,
    checks: verification.files,
    totalBytes: progress.totalBytes,
    resumedBytes: progress.resumedBytes,
    seconds: (Date.now() - started) / 1000,
  };
}
