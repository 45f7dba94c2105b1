/**
 * Exit codes of `daotrain download`, one per kind of failure so that scripts can branch on them
 * (1 and 2 keep their CLI-wide meanings: failed, wrong command line).
 */
export const DownloadExitCode = {
  notReleased: 3,
  rootMismatch: 4,
  shardCorrupt: 5,
  manifestInvalid: 6,
  storeUnavailable: 7,
  outputExists: 8,
} as const;

export abstract class DownloadError extends Error {
  abstract readonly exitCode: number;
}

export class CheckpointNotReleasedError extends DownloadError {
  override readonly name = "CheckpointNotReleasedError";
  readonly exitCode = DownloadExitCode.notReleased;
  readonly released: readonly number[];
  /** `round` undefined: the latest released round was asked for and there is none. */
  constructor(runId: string, round: number | undefined, released: readonly number[]) {
    const which =
      released.length > 0
        ? `released rounds: ${released.join(", ")} (pick one with --round)`
        : "no round of this run is released yet; the DAO releases one by voting on releaseCheckpoint";
    const what = round === undefined ? "no checkpoint" : `checkpoint of run ${runId} round ${round}`;
    super(
      `${round === undefined ? `run ${runId} has ${what} released` : `${what} is not released`} by the DAO; ${which}`,
    );
    this.released = released;
  }
}

/** The manifest's root is not the root the chain committed, or its shard list does not hash to it. */
export class RootMismatchError extends DownloadError {
  override readonly name = "RootMismatchError";
  readonly exitCode = DownloadExitCode.rootMismatch;
}

/** A shard in the store is truncated, longer, or its bytes do not hash to the manifest's sha256. */
export class ShardCorruptError extends DownloadError {
  override readonly name = "ShardCorruptError";
  readonly exitCode = DownloadExitCode.shardCorrupt;
  readonly problems: readonly string[];
  constructor(storeUri: string, problems: readonly string[]) {
    super(`checkpoint in ${storeUri} is corrupt: ${problems.join("; ")}; nothing was written`);
    this.problems = problems;
  }
}

export class ManifestInvalidError extends DownloadError {
  override readonly name = "ManifestInvalidError";
  readonly exitCode = DownloadExitCode.manifestInvalid;
}

export class StoreUnreachableError extends DownloadError {
  override readonly name = "StoreUnreachableError";
  readonly exitCode = DownloadExitCode.storeUnavailable;
}

export class OutputExistsError extends DownloadError {
  override readonly name = "OutputExistsError";
  readonly exitCode = DownloadExitCode.outputExists;
  constructor(out: string) {
    super(`${out} already exists and is not empty; choose another --out or remove it`);
  }
}
