import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type CheckpointManifest, MANIFEST_FILE } from "../checkpoints/index.ts";
import {
  checkReplicaManifest,
  type Defect,
  type ReplicaBounds,
  ReplicaBoundsError,
} from "../diloco/index.ts";
import type { Bytes32 } from "../spec/runSpec.ts";
import {
  type CheckpointStore,
  ManifestInvalidError,
  ObjectNotFoundError,
  ObjectTooLargeError,
  type OpenStoreOptions,
  openStore,
  parseStoreUri,
  putDirectory,
  RootMismatchError,
  ShardCorruptError,
  type StageDirectoryOptions,
  StoreUnreachableError,
  stageDirectory,
  stagedCopyOf,
} from "../storage/index.ts";
import { type RoundRecord, roundRecordBytes, roundRecordHash } from "./record.ts";

/**
 * The run store: where a run's initial, replica and global checkpoints live, named by (run, round,
 * replica, attempt) so that a retried activity finds what the first attempt wrote. A local
 * directory (`file:///…`, the embedded default, which local trainers read in place) or a bucket
 * (`s3://…`, which trainers on remote clusters reach too). The worker's outer step reads files,
 * so remote checkpoints are staged into `workDir` and written there before they are uploaded.
 */
export class RunStore {
  readonly store: CheckpointStore;
  readonly #local: string | undefined;
  readonly #workDir: string;
  readonly #stagedDir: string;
  readonly #options: OpenStoreOptions;

  constructor(uri: string, workDir: string, options: OpenStoreOptions = {}) {
    const location = parseStoreUri(uri);
    this.store = openStore(uri, options);
    this.#local = location.kind === "file" ? location.directory : undefined;
    this.#workDir = workDir;
    this.#stagedDir = join(workDir, "staged");
    this.#options = options;
  }

  initKey(runId: string): string {
    return `runs/${runId}/init`;
  }

  /** Under the cluster's name, so that a bucket policy can let each contributor write its own only. */
  replicaKey(runId: string, round: number, cluster: string, replica: number, attempt: number): string {
    return `runs/${runId}/rounds/${round}/clusters/${cluster}/replicas/${replica}-a${attempt}`;
  }

  /**
   * Where an evaluating cluster writes its scores of a replica's output: under its own prefix, so
   * the keys `daotrain store grant` mints for it may write there and nowhere another cluster does.
   */
  scoresKey(runId: string, round: number, evaluator: string, replica: number, attempt: number): string {
    return `runs/${runId}/rounds/${round}/clusters/${evaluator}/scores/${replica}-a${attempt}.json`;
  }

  globalKey(runId: string, round: number): string {
    return `runs/${runId}/rounds/${round}/global`;
  }

  /** A round record is named by its hash (content-addressed), beside the round's global checkpoint. */
  recordKey(runId: string, round: number, hash: Bytes32): string {
    return `runs/${runId}/rounds/${round}/records/${hash.slice(2)}.json`;
  }

  /**
   * Publishes a round record under its hash; publishing it again writes the same bytes. Returns
   * where it is and the hash the chain commits.
   */
  async publishRecord(record: RoundRecord): Promise<{ uri: string; hash: Bytes32 }> {
    const bytes = roundRecordBytes(record);
    const hash = roundRecordHash(bytes);
    const key = this.recordKey(record.runId, record.round, hash);
    await this.store.putBytes(key, bytes);
    return { uri: this.store.uriOf(key), hash };
  }

  /**
   * The retention rule's end: once the DAO released round `released` (or a later one), the replica
   * outputs of every round up to it — each attempt's, under `rounds/<r>/clusters/` — are deleted.
   * Until then nothing deletes them, so every round an auditor may still need to redo keeps the
   * outputs its record names. Global checkpoints, the initial one and round records stay.
   */
  async pruneReplicaOutputs(runId: string, released: number): Promise<number> {
    const prefix = `runs/${runId}/rounds/`;
    const judged = new RegExp(`^${prefix}(\\d+)/clusters/`);
    const outputs = (await this.store.list(prefix)).filter(({ key }) => {
      const round = judged.exec(key)?.[1];
      return round !== undefined && Number(round) <= released;
    });
    if (this.#local !== undefined) {
      const rounds = new Set(outputs.map(({ key }) => key.slice(0, key.indexOf("/clusters/"))));
      await Promise.all(
        [...rounds].map((round) =>
          rm(join(this.#local!, ...round.split("/"), "clusters"), { recursive: true, force: true }),
        ),
      );
    } else {
      for (const { key } of outputs) await this.store.delete(key);
    }
    return outputs.length;
  }

  /** The URI a trainer is given for a checkpoint directory. */
  dirUri(key: string): string {
    return this.store.uriOf(key);
  }

  /** A checkpoint is named by its manifest's URI (what the chain records and downloads read). */
  manifestUri(key: string): string {
    return this.store.uriOf(`${key}/${MANIFEST_FILE}`);
  }

  /**
   * A checkpoint or dataset, named by its directory's or its manifest's URI, as a local directory;
   * a remote one is checked against `root` (when known) as it is staged, and `select` limits which
   * of its shards come (the manifest always does).
   */
  async localDir(uri: string, root?: Bytes32, select?: StageDirectoryOptions["select"]): Promise<string> {
    return stageDirectory({
      uri,
      ...(root ? { root } : {}),
      ...(select ? { select } : {}),
      cacheDir: this.#stagedDir,
      store: this.#options,
    });
  }

  /**
   * A replica's output as a local directory, or what is wrong with it. It is untrusted: from a
   * bucket, its manifest is fetched only up to `bounds.manifestBytes`, checked against the bounds
   * before any shard is (so a replica claiming a 10 GiB shard costs one small request), and no
   * shard is fetched past the size it claims; a missing, truncated or corrupt output, or one with a
   * wrong root, is that replica's defect, not the round's failure. A store that cannot be reached
   * still fails the call (the activity retries). From a local store, the directory as it is: the
   * outer step applies the same bounds as it reads.
   */
  async stageReplica(uri: string, bounds: ReplicaBounds): Promise<{ dir: string } | { defect: Defect }> {
    try {
      const dir = await stageDirectory({
        uri,
        cacheDir: this.#stagedDir,
        store: this.#options,
        limits: {
          manifestBytes: bounds.manifestBytes,
          admit: (manifest) => checkReplicaManifest(manifest, bounds),
        },
      });
      return { dir };
    } catch (error) {
      return { defect: stagingDefect(error) };
    }
  }

  /** Frees the staged copies among `dirs` once read; a local store's own directories stay. */
  async dropStaged(dirs: readonly string[]): Promise<void> {
    const staged = dirs.filter((dir) => dirname(dir) === this.#stagedDir);
    await Promise.all(staged.map((dir) => rm(dir, { recursive: true, force: true })));
  }

  /**
   * Writes a checkpoint under `key` with `write` (given the local directory to write) and makes
   * it visible in the store: in place for a local store; for a bucket, written in the work
   * directory, uploaded manifest last, and kept as the staged copy of its root, which is what
   * the next round reads. Safe to repeat, as `writeCheckpoint` is.
   */
  async writeCheckpoint(
    key: string,
    write: (dir: string) => Promise<CheckpointManifest>,
  ): Promise<CheckpointManifest> {
    if (this.#local !== undefined) return write(join(this.#local, ...key.split("/")));
    const dir = join(this.#workDir, "written", ...key.split("/"));
    const manifest = await write(dir);
    await putDirectory(this.store, dir, key);
    await mkdir(this.#stagedDir, { recursive: true });
    await rename(dir, stagedCopyOf(this.#stagedDir, manifest.root)).catch(() =>
      rm(dir, { recursive: true, force: true }),
    );
    return manifest;
  }
}

/** A committed manifest URI outside the run store's layout: its store cannot be found from it. */
export class RunStoreLayoutError extends Error {
  override readonly name = "RunStoreLayoutError";
}

/**
 * The run store a committed global checkpoint lives in, found from its manifest URI on-chain
 * (`<store>/runs/<run>/rounds/<r>/global/manifest.json`): where that round's record and replica
 * outputs are too.
 */
export function runStoreUriOf(manifestUri: string, runId: string, round: number): string {
  const suffix = `/runs/${runId}/rounds/${round}/global/${MANIFEST_FILE}`;
  if (!manifestUri.endsWith(suffix) || manifestUri.length === suffix.length)
    throw new RunStoreLayoutError(
      `the committed manifest ${manifestUri} is not a run store's round ${round} global checkpoint (…${suffix}); name the run store with --store URI`,
    );
  return manifestUri.slice(0, -suffix.length);
}

/** What a failed staging of a replica's output says about the replica; the store's own failures are rethrown. */
function stagingDefect(error: unknown): Defect {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ReplicaBoundsError) return { reason: error.reason, message };
  if (error instanceof ObjectTooLargeError) return { reason: "oversized", message };
  if (error instanceof RootMismatchError || error instanceof ShardCorruptError)
    return { reason: "hash-mismatch", message };
  if (error instanceof ManifestInvalidError) return { reason: "unreadable", message };
  if (error instanceof StoreUnreachableError && error.cause instanceof ObjectNotFoundError)
    return { reason: "unreadable", message: `${message} (the replica delivered nothing there)` };
  throw error;
}
