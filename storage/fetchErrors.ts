/**
 * What a verified read of a stored directory fails with: staging (stage.ts) and the download
 * (download/) throw these. Each kind has the exit code `daotrain download` and `daotrain verify`
 * end with, so that scripts can branch on them (1 and 2 keep their CLI-wide meanings: failed,
 * wrong command line).
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
