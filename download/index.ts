export { chainCheckpoint, pickReleasedRound, releasedRoundNumbers } from "./chain.ts";
export {
  CHECKSUMS_FILE,
  type ChainCheckpoint,
  type DownloadCheckpointOptions,
  type DownloadedShard,
  type DownloadResult,
  downloadCheckpoint,
  stagingDirectory,
} from "./download.ts";
export * from "./errors.ts";
export { type DownloadProgress, progressBar, progressLine } from "./progress.ts";
