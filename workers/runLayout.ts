import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MANIFEST_FILE } from "../checkpoints/index.ts";

/**
 * Where a run's checkpoints live in the run store, by (run, round, replica, attempt): every
 * activity derives the same paths, so a retried activity finds what the first attempt wrote.
 */
export class RunLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  initDir(runId: string): string {
    return join(this.root, "runs", runId, "init");
  }

  replicaDir(runId: string, round: number, replica: number, attempt: number): string {
    return join(this.root, "runs", runId, "rounds", String(round), "replicas", `${replica}-a${attempt}`);
  }

  globalDir(runId: string, round: number): string {
    return join(this.root, "runs", runId, "rounds", String(round), "global");
  }
}

export function dirUri(dir: string): string {
  return pathToFileURL(dir).href;
}

/** A checkpoint is named by its manifest's URI (what the chain records and downloads read). */
export function manifestUriOf(dir: string): string {
  return pathToFileURL(join(dir, MANIFEST_FILE)).href;
}

export function checkpointDirOf(manifestUri: string): string {
  return dirname(fileURLToPath(manifestUri));
}
