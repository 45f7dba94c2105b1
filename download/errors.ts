import { DownloadError, DownloadExitCode } from "../storage/fetchErrors.ts";

export * from "../storage/fetchErrors.ts";

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

export class OutputExistsError extends DownloadError {
  override readonly name = "OutputExistsError";
  readonly exitCode = DownloadExitCode.outputExists;
  constructor(out: string) {
    super(`${out} already exists and is not empty; choose another --out or remove it`);
  }
}
