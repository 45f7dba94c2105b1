import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { compareShards, hashFiles, MANIFEST_FILE, merkleRoot, Sha256Hex } from "../checkpoints/index.ts";
import { Bytes32 } from "../spec/runSpec.ts";
import { RootMismatchError, ShardCorruptError } from "./fetchErrors.ts";
import { type OpenStoreOptions, openStore } from "./open.ts";
import { type CheckpointStore, ObjectTooLargeError } from "./store.ts";
import { parseManifest, storeFailure } from "./storeReads.ts";
import { parseStoreUri, splitObjectUri } from "./uri.ts";

/**
 * What staging needs of a manifest, and what checkpoints and datasets share: shard files named
 * by a plain file name, with their size and sha256, and the Merkle root over those hashes.
 */
const StagedManifest = z.object({
  shards: z
    .array(
      z
        .object({
          path: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a plain file name"),
          bytes: z.number().int().min(0),
          sha256: Sha256Hex,
        })
        // A dataset's shards say more (their split): a selection may go by it.
        .passthrough(),
    )
    .min(1),
  root: Bytes32,
});
export type StagedManifest = z.infer<typeof StagedManifest>;
/** One shard's entry in the manifest, with whatever else the format records about it. */
export type StagedShard = StagedManifest["shards"][number];

export interface StageDirectoryOptions {
  /**
   * The directory's URI, `file:///dir` (read where it is) or `s3://bucket/prefix`, or its
   * manifest's (`…/manifest.json`, as checkpoints are named on-chain).
   */
  uri: string;
  /**
   * The root its shards must hash to. Without it, the manifest's own root: the copy is then only
   * consistent with its manifest, and the caller judges the content (as the outer step does).
   */
  root?: Bytes32;
  /** Where remote directories are copied, one folder per root, reused by later calls. */
  cacheDir: string;
  /**
   * Only the shards this picks are fetched (a replica's share of a dataset and its validation
   * shards, say); the manifest always is. Such a copy is named by the root and the selection.
   * Readers of a partial copy verify what they read against the manifest, as `openDataset` does.
   */
  select?: (shard: StagedShard, index: number) => boolean;
  store?: OpenStoreOptions;
  /**
   * For a directory its writer may have made hostile (a replica's output): the manifest is refused
   * beyond `manifestBytes` (ObjectTooLargeError) without being fetched, and `admit` sees the parsed
   * manifest before any shard is fetched, throwing to refuse it.
   */
  limits?: { manifestBytes: number; admit(manifest: StagedManifest): void };
  /** Shards fetched at once. */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * A checkpoint or dataset directory in a store, as a local directory that code reading files can
 * open. A local store's directory is used where it is (its readers verify it as they read). A
 * remote one is fetched into `<cacheDir>/<root>`: shards in parallel into a temporary folder,
 * every shard's size and sha256 and the root checked, then renamed into place, so the cache only
 * ever holds complete, verified copies and a second call for the same root fetches nothing.
 */
/**
 * Where the whole, verified copy of the directory with this root lives in `cacheDir`; a writer
 * that already holds such a directory (verified as it wrote it) may put it there for later reads.
 */
export function stagedCopyOf(cacheDir: string, root: Bytes32): string {
  return join(cacheDir, root.slice(2));
}

export async function stageDirectory(options: StageDirectoryOptions): Promise<string> {
  const uri = options.uri.endsWith(`/${MANIFEST_FILE}`) ? splitObjectUri(options.uri).storeUri : options.uri;
  const location = parseStoreUri(uri);
  if (location.kind === "file") return location.directory;
  // A whole copy is named by its root only once verified: with the root known, it needs no request.
  if (options.root && !options.select) {
    const copy = stagedCopyOf(options.cacheDir, options.root);
    if (await exists(join(copy, MANIFEST_FILE))) return copy;
  }

  const store = openStore(uri, options.store);
  const manifestBytes = await store
    .getBytes(MANIFEST_FILE, options.limits?.manifestBytes)
    .catch(storeFailure);
  const manifest = parseManifest(manifestBytes, store.uriOf(MANIFEST_FILE), StagedManifest);
  options.limits?.admit(manifest);
  const root = options.root ?? manifest.root;
  checkRoot(manifest, root, store.uriOf(MANIFEST_FILE));
  const { select } = options;
  const wanted = select ? manifest.shards.filter((shard, i) => select(shard, i)) : manifest.shards;

  const whole = stagedCopyOf(options.cacheDir, root);
  const target = select ? `${whole}-${selectionName(wanted)}` : whole;
  if (await exists(join(target, MANIFEST_FILE))) return target;
  const partial = `${target}.partial.${process.pid}.${randomBytes(4).toString("hex")}`;
  await mkdir(partial, { recursive: true });
  try {
    await fetchShards(store, wanted, partial, options);
    await checkShards(store, wanted, partial);
    await writeFile(join(partial, MANIFEST_FILE), manifestBytes);
    await rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
      // Staged meanwhile by a concurrent call: theirs is as good as ours.
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
    });
    return target;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

function checkRoot(manifest: StagedManifest, root: Bytes32, uri: string): void {
  const listed = merkleRoot(manifest.shards.map((shard) => shard.sha256));
  if (manifest.root !== root || listed !== root) {
    throw new RootMismatchError(
      `manifest ${uri} has root ${manifest.root} and its shard hashes give ${listed}; expected ${root}`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A short name for a selection of shards, so that copies of different selections never meet. */
function selectionName(shards: readonly StagedShard[]): string {
  return createHash("sha256")
    .update(shards.map((s) => s.path).join("\n"))
    .digest("hex")
    .slice(0, 12);
}

async function fetchShards(
  store: CheckpointStore,
  shards: readonly StagedShard[],
  dir: string,
  options: StageDirectoryOptions,
): Promise<void> {
  const queue = [...shards];
  const fetchNext = async () => {
    for (let shard = queue.shift(); shard; shard = queue.shift()) {
      // A shard longer than its manifest says is corrupt: refused before a byte of it comes.
      await store
        .downloadToFile(shard.path, join(dir, shard.path), { signal: options.signal, maxBytes: shard.bytes })
        .catch((error: unknown) => {
          if (!(error instanceof ObjectTooLargeError)) return storeFailure(error);
          throw new ShardCorruptError(store.uri, [
            `${shard.path}: ${error.bytes} bytes in the store, the manifest says ${shard.bytes}`,
          ]);
        });
    }
  };
  const parallel = Math.max(1, Math.min(options.concurrency ?? 4, shards.length));
  await Promise.all(Array.from({ length: parallel }, fetchNext));
}

/**
 * Each fetched shard against its manifest entry. The manifest's list was checked against the root
 * already, so the fetched shards, as a list of their own, are judged under their own root.
 */
async function checkShards(
  store: CheckpointStore,
  shards: readonly StagedShard[],
  dir: string,
): Promise<void> {
  if (shards.length === 0) return;
  const hashes = await hashFiles(shards.map((shard) => join(dir, shard.path)));
  const fetched = { shards, root: merkleRoot(shards.map((shard) => shard.sha256)) };
  const verification = compareShards(fetched, hashes);
  if (!verification.ok) throw new ShardCorruptError(store.uri, verification.problems);
}
