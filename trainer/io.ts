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
import { type Checkpoint, readCheckpoint } from "../checkpoints/read.ts";
import { type Dataset, openDataset } from "../datasets/read.ts";
import { runSpecFromMetadata } from "../model/parameters.ts";
import { InvalidInputError } from "../spec/errors.ts";
import { type Bytes32, type RunSpec, runIdOf } from "../spec/runSpec.ts";
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

/** Turns a failed check of an input into the refusal to go on with it. */
function mismatch(error: Error): never {
  throw new InputMismatchError(error.message);
}

/** A staged dataset, refused unless its manifest has the orchestrator's root (shards are checked as read). */
export async function verifiedDataset(dir: string, root: Bytes32): Promise<Dataset> {
  return await openDataset(dir, root).catch(mismatch);
}

/**
 * The global checkpoint θ a round starts from (DAOTRAIN_INIT_URI), read whole and refused unless
 * its bytes hash to DAOTRAIN_INIT_ROOT, with the run spec its metadata carries, which must hash to
 * DAOTRAIN_RUN_ID.
 */
export async function verifiedGlobal(env: {
  DAOTRAIN_RUN_ID: Bytes32;
  DAOTRAIN_INIT_URI: string;
  DAOTRAIN_INIT_ROOT: Bytes32;
}): Promise<{ init: Checkpoint; spec: RunSpec }> {
  const initDir = await stagedInput(env.DAOTRAIN_INIT_URI, env.DAOTRAIN_INIT_ROOT, "DAOTRAIN_INIT_URI");
  const init = await readCheckpoint(initDir, { expectedRoot: env.DAOTRAIN_INIT_ROOT }).catch(mismatch);
  const spec = runSpecFromMetadata(init.metadata, initDir);
  if (runIdOf(spec) !== env.DAOTRAIN_RUN_ID || init.manifest.runId !== env.DAOTRAIN_RUN_ID) {
    throw new InputMismatchError(
      `the initial checkpoint belongs to run ${runIdOf(spec)}, not ${env.DAOTRAIN_RUN_ID}`,
    );
  }
  return { init, spec };
}

/** A dataset whose tokens the model cannot embed is not this run's. */
export function checkVocabulary(dataset: Dataset, spec: RunSpec): void {
  if (dataset.manifest.tokenizer.vocabSize > spec.model.vocabSize) {
    throw new InputMismatchError(
      `the dataset's vocabulary (${dataset.manifest.tokenizer.vocabSize}) exceeds the model's (${spec.model.vocabSize})`,
    );
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
