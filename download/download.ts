import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { z } from "zod";
import {
  type CheckpointManifest,
  CheckpointManifest as CheckpointManifestSchema,
  MANIFEST_FILE,
  merkleRoot,
  verifyCheckpoint,
} from "../checkpoints/index.ts";
import { InvalidInputError } from "../spec/errors.ts";
import type { Bytes32 } from "../spec/runSpec.ts";
import {
  type CheckpointStore,
  type OpenStoreOptions,
  openStore,
  parseManifest,
  splitObjectUri,
  storeFailure,
} from "../storage/index.ts";
import {
  CheckpointNotReleasedError,
  ManifestInvalidError,
  OutputExistsError,
  RootMismatchError,
  ShardCorruptError,
} from "./errors.ts";
import type { DownloadProgress } from "./progress.ts";

/** A checkpoint as the chain records it: the only thing a download trusts. */
export interface ChainCheckpoint {
  runId: Bytes32;
  round: number;
  root: Bytes32;
  manifestUri: string;
  released: boolean;
}

export interface DownloadCheckpointOptions {
  checkpoint: ChainCheckpoint;
  /** The run's released rounds, read from the chain, for the refusal of an unreleased one. */
  releasedRounds: () => Promise<number[]>;
  /** The directory to create; it must not exist or be empty. */
  out: string;
  store?: OpenStoreOptions;
  /** Shards fetched at once (each S3 shard is itself fetched in parallel parts). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadedShard {
  path: string;
  bytes: number;
  sha256: string;
}

export interface DownloadResult {
  out: string;
  runId: Bytes32;
  round: number;
  root: Bytes32;
  manifestUri: string;
  shards: DownloadedShard[];
  totalBytes: number;
  /** Bytes kept from an interrupted earlier download instead of fetched again. */
  resumedBytes: number;
  seconds: number;
}

export const CHECKSUMS_FILE = "SHA256SUMS";
const STATE_FILE = ".daotrain-download.json";

/** Where partial files wait: beside the output, so the final rename stays on one filesystem. */
export function stagingDirectory(out: string): string {
  return join(dirname(resolve(out)), `${basename(resolve(out))}.partial`);
}

async function isAbsentOrEmpty(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw error;
  }
}

/** The chain's manifest URI is untrusted input too: one daotrain cannot read is refused as invalid. */
function openManifestStore(
  uri: string,
  options: OpenStoreOptions | undefined,
): { store: CheckpointStore; key: string } {
  try {
    const { storeUri, key } = splitObjectUri(uri);
    return { store: openStore(storeUri, options), key };
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new ManifestInvalidError(`the chain's manifest URI: ${error.message}`);
    throw error;
  }
}

/** The manifest must be the one the chain committed: same run and round, shards that hash to its root. */
function checkManifestAgainstChain(manifest: CheckpointManifest, chain: ChainCheckpoint): void {
  if (manifest.runId !== chain.runId || manifest.round !== chain.round) {
    throw new ManifestInvalidError(
      `manifest ${chain.manifestUri} is for run ${manifest.runId} round ${manifest.round}, not run ${chain.runId} round ${chain.round}`,
    );
  }
  if (manifest.root !== chain.root) {
    throw new RootMismatchError(
      `manifest ${chain.manifestUri} has root ${manifest.root} but the chain committed ${chain.root}; the store does not hold the checkpoint the DAO released`,
    );
  }
  const listed = merkleRoot(manifest.shards.map((shard) => shard.sha256));
  if (listed !== chain.root) {
    throw new RootMismatchError(
      `manifest ${chain.manifestUri}: its shard hashes give root ${listed}, not the committed ${chain.root}`,
    );
  }
}

/** A file a download fetches: its key beside the manifest, and its size as the manifest lists it. */
export interface ListedFile {
  readonly path: string;
  readonly bytes: number;
}

/** Size checks before any byte moves: a truncated or grown file is refused at once. */
async function checkSizes(store: CheckpointStore, files: readonly ListedFile[]): Promise<void> {
  const problems: string[] = [];
  for (const shard of files) {
    const object = await store.stat(shard.path);
    if (!object) problems.push(`${shard.path} is missing from the store`);
    else if (object.bytes < shard.bytes) {
      problems.push(
        `${shard.path} is truncated: ${object.bytes} bytes in the store, the manifest says ${shard.bytes}`,
      );
    } else if (object.bytes > shard.bytes) {
      problems.push(
        `${shard.path} has ${object.bytes} bytes in the store, more than the manifest's ${shard.bytes}`,
      );
    }
  }
  if (problems.length > 0) throw new ShardCorruptError(store.uri, problems);
}

/** Partial files belong to one root; leftovers of another checkpoint are cleared. */
async function prepareStaging(staging: string, root: Bytes32): Promise<void> {
  const stateFile = join(staging, STATE_FILE);
  const previous = await readFile(stateFile, "utf8").then(
    (text) => (JSON.parse(text) as { root?: string }).root,
    () => undefined,
  );
  if (previous !== root) await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(stateFile, `${JSON.stringify({ root })}\n`);
}

export type FetchOptions = Pick<DownloadCheckpointOptions, "concurrency" | "signal" | "onProgress">;

/** Fetches files in parallel into `staging`, resuming what an interrupted run left there. */
async function fetchFiles(
  store: CheckpointStore,
  files: readonly ListedFile[],
  staging: string,
  options: FetchOptions,
  progress: DownloadProgress,
  started: number,
): Promise<void> {
  const report = () => {
    progress.elapsedSeconds = (Date.now() - started) / 1000;
    options.onProgress?.(progress);
  };
  // Count what an interrupted run left before fetching, so the bar starts where it stopped.
  const kept = await Promise.all(
    files.map(async (shard) => {
      const length = await stat(join(staging, shard.path)).then(
        (info) => info.size,
        () => 0,
      );
      return length <= shard.bytes ? length : 0;
    }),
  );
  progress.resumedBytes = kept.reduce((sum, bytes) => sum + bytes, 0);
  progress.doneBytes = progress.resumedBytes;
  const queue = files.map((shard, index) => ({ shard, kept: kept[index]! }));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { shard } = next;
      let counted = 0;
      const result = await store.downloadToFile(shard.path, join(staging, shard.path), {
        signal: options.signal,
        onBytes: (bytes) => {
          counted += bytes;
          progress.doneBytes += bytes;
          report();
        },
      });
      // The store decides what it resumes from; a store that cannot report chunks as they land
      // (a local copy) is accounted when the shard is done.
      progress.resumedBytes += result.resumedFrom - next.kept;
      progress.doneBytes += result.bytes - next.kept - counted;
      report();
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 4, files.length));
  await Promise.all(Array.from({ length: workers }, worker));
}

/** `sha256sum -c`'s input for the files and the manifest they came with. */
function checksumsFile(
  files: readonly DownloadedShard[],
  manifestName: string,
  manifestBytes: Uint8Array,
): string {
  const manifestHash = createHash("sha256").update(manifestBytes).digest("hex");
  const lines = [...files.map((file) => `${file.sha256}  ${file.path}`), `${manifestHash}  ${manifestName}`];
  return `${lines.join("\n")}\n`;
}

/** What every download starts from: the released round's manifest, read and parsed, and an empty `out`. */
export async function openDownload<S extends z.ZodType>(
  options: Pick<DownloadCheckpointOptions, "checkpoint" | "releasedRounds" | "out" | "store">,
  schema: S,
): Promise<{ out: string; store: CheckpointStore; manifestBytes: Uint8Array; manifest: z.infer<S> }> {
  const { checkpoint: chain } = options;
  if (!chain.released) {
    throw new CheckpointNotReleasedError(chain.runId, chain.round, await options.releasedRounds());
  }
  const out = resolve(options.out);
  if (!(await isAbsentOrEmpty(out))) throw new OutputExistsError(out);
  const { store, key } = openManifestStore(chain.manifestUri, options.store);
  const manifestBytes = await store.getBytes(key).catch(storeFailure);
  return { out, store, manifestBytes, manifest: parseManifest(manifestBytes, chain.manifestUri, schema) };
}

/**
 * Size-checks the files in the store, then fetches them into `<out>.partial/` (tied to `root`, so
 * an interrupted download of the same thing resumes), with the manifest written beside them.
 */
export async function fetchIntoStaging(
  store: CheckpointStore,
  files: readonly ListedFile[],
  manifest: { name: string; bytes: Uint8Array; root: Bytes32 },
  out: string,
  options: FetchOptions,
  started: number,
): Promise<{ staging: string; progress: DownloadProgress }> {
  await checkSizes(store, files).catch(storeFailure);
  const staging = stagingDirectory(out);
  await prepareStaging(staging, manifest.root);
  const totalBytes = files.reduce((sum, file) => sum + file.bytes, 0);
  const progress: DownloadProgress = { totalBytes, doneBytes: 0, resumedBytes: 0, elapsedSeconds: 0 };
  await fetchFiles(store, files, staging, options, progress, started).catch(storeFailure);
  await writeFile(join(staging, manifest.name), manifest.bytes);
  return { staging, progress };
}

/** Writes SHA256SUMS for the verified files and renames the staging directory into place. */
export async function finishDownload(
  staging: string,
  out: string,
  files: readonly DownloadedShard[],
  manifest: { name: string; bytes: Uint8Array },
): Promise<void> {
  await writeFile(join(staging, CHECKSUMS_FILE), checksumsFile(files, manifest.name, manifest.bytes));
  await rm(join(staging, STATE_FILE));
  await rmdir(out).catch(() => {});
  await rename(staging, out);
}

/**
 * Downloads a released checkpoint into `out` and proves it is the one the chain committed:
 * refuses an unreleased round, checks the manifest against the chain's root, fetches the shards
 * in parallel into `<out>.partial/` (resuming what an interrupted run left there), verifies every
 * shard's size and sha256 and the root, writes SHA256SUMS, and only then renames the directory
 * into place. On failure `out` is left as it was; partial files stay for a resume unless the
 * store's bytes proved corrupt.
 */
export async function downloadCheckpoint(options: DownloadCheckpointOptions): Promise<DownloadResult> {
  const { checkpoint: chain } = options;
  const started = Date.now();
  const { out, store, manifestBytes, manifest } = await openDownload(options, CheckpointManifestSchema);
  checkManifestAgainstChain(manifest, chain);
  const written = { name: MANIFEST_FILE, bytes: manifestBytes, root: chain.root };
  const { staging, progress } = await fetchIntoStaging(
    store,
    manifest.shards,
    written,
    out,
    options,
    started,
  );
  const verification = await verifyCheckpoint(staging, chain.root);
  if (!verification.ok) {
    // These bytes are what the store serves: resuming them would only fail again.
    await rm(staging, { recursive: true, force: true });
    throw new ShardCorruptError(store.uri, verification.problems);
  }
  const shards = verification.shards.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 }));
  await finishDownload(staging, out, shards, written);
  return {
    out,
    runId: chain.runId,
    round: chain.round,
    root: chain.root,
    manifestUri: chain.manifestUri,
    shards,
    totalBytes: progress.totalBytes,
    resumedBytes: progress.resumedBytes,
    seconds: (Date.now() - started) / 1000,
  };
}
