import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CheckpointManifest,
  CheckpointManifest as CheckpointManifestSchema,
  MANIFEST_FILE,
  readCheckpointManifest,
  verifyCheckpoint,
} from "../checkpoints/index.ts";
import { InvalidInputError } from "../spec/errors.ts";
import type { Bytes32 } from "../spec/runSpec.ts";
import {
  DownloadError,
  openStore,
  parseStoreUri,
  putDirectory,
  type StageDirectoryOptions,
  type StoreLocation,
  StoreUnreachableError,
  stageDirectory,
} from "../storage/index.ts";

/** An input does not match the root the orchestrator gave for it; the trainer refuses to train. */
export class InputMismatchError extends Error {
  override readonly name = "InputMismatchError";
}

/**
 * Remote inputs and the output pass through this process's own folder in the temporary directory
 * (a pod's emptyDir; the local executor's tmp), so replicas sharing a machine never share files.
 */
const scratch = join(tmpdir(), `daotrain-trainer-${process.pid}`);

/** Frees what the trainer staged (or a killed process with the same pid left); its output is in the store by then. */
export async function removeScratch(): Promise<void> {
  await rm(scratch, { recursive: true, force: true });
}

/** A contract URI, parsed; a bad one is refused naming the variable that holds it. */
function locate(uri: string, variable: string): StoreLocation {
  try {
    return parseStoreUri(uri);
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError(
        "trainer environment",
        error.problems.map((p) => `${variable}: ${p}`),
      );
    throw error;
  }
}

/**
 * An input directory (the dataset or the initial checkpoint) as a local directory: where it is
 * for `file://`, fetched and checked against `root` for `s3://`. A copy that is not what the
 * orchestrator named is refused (InputMismatchError); an unreachable store is a plain failure,
 * worth a retry.
 */
export async function stagedInput(
  uri: string,
  root: Bytes32,
  variable: string,
  select?: StageDirectoryOptions["select"],
): Promise<string> {
  locate(uri, variable);
  try {
    return await stageDirectory({
      uri,
      root,
      cacheDir: join(scratch, "inputs"),
      ...(select ? { select } : {}),
    });
  } catch (error) {
    if (error instanceof DownloadError && !(error instanceof StoreUnreachableError))
      throw new InputMismatchError(`${variable} ${uri}: ${error.message}`);
    throw error;
  }
}

/** Where the trainer writes its checkpoint, and how it reaches DAOTRAIN_OUTPUT_URI. */
export interface OutputTarget {
  readonly uri: string;
  /** The local directory to write the checkpoint into. */
  readonly dir: string;
  /** This replica's checkpoint when a previous attempt already delivered it complete. */
  delivered(parentRoot: Bytes32, round: number): Promise<CheckpointManifest | null>;
  /** Puts the written checkpoint at the URI (for a remote store: shards, then the manifest). */
  deliver(): Promise<void>;
}

export function outputTarget(uri: string): OutputTarget {
  const location = locate(uri, "DAOTRAIN_OUTPUT_URI");
  if (location.kind === "file") {
    const dir = location.directory;
    return {
      uri,
      dir,
      async delivered(parentRoot, round) {
        const manifest = await readCheckpointManifest(dir).catch(() => null);
        if (!manifest || manifest.parentRoot !== parentRoot || manifest.round !== round) return null;
        return (await verifyCheckpoint(dir, manifest.root)).ok ? manifest : null;
      },
      async deliver() {},
    };
  }
  const store = openStore(uri);
  const dir = join(scratch, "output");
  return {
    uri,
    dir,
    async delivered(parentRoot, round) {
      if (!(await store.stat(MANIFEST_FILE))) return null;
      const manifest = manifestIn(await store.getBytes(MANIFEST_FILE));
      if (!manifest || manifest.parentRoot !== parentRoot || manifest.round !== round) return null;
      // The manifest goes up last, so its shards are there; the orchestrator re-hashes them anyway.
      for (const shard of manifest.shards) {
        if ((await store.stat(shard.path))?.bytes !== shard.bytes) return null;
      }
      return manifest;
    },
    async deliver() {
      await putDirectory(store, dir, "");
    },
  };
}

function manifestIn(bytes: Uint8Array): CheckpointManifest | null {
  try {
    const parsed = CheckpointManifestSchema.safeParse(JSON.parse(Buffer.from(bytes).toString("utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
