export { chainCheckpoint, pickReleasedRound, releasedRoundNumbers, releaseFacts } from "./chain.ts";
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
export { defaultRepoId, type HfCachePlacement, hfCacheRepoFolder, placeInHfCache } from "./hfCache.ts";
export { type DownloadProgress, progressBar, progressLine } from "./progress.ts";
export {
  type DownloadReleaseOptions,
  downloadRelease,
  type FileSelection,
  type ReleaseDownloadResult,
  releaseError,
  selects,
} from "./release.ts";
