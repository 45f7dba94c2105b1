export { putDirectory } from "./directory.ts";
export * from "./fetchErrors.ts";
export { LocalDirectoryStore } from "./local.ts";
export { type OpenStoreOptions, openStore, s3OptionsFromEnv } from "./open.ts";
export {
  type PublishRunSpecOptions,
  publishRunSpec,
  type ReadRunSpecOptions,
  RunSpecUnreadableError,
  readRunSpec,
} from "./runSpecs.ts";
export { S3Store, type S3StoreOptions } from "./s3.ts";
export { type StageDirectoryOptions, type StagedShard, stageDirectory, stagedCopyOf } from "./stage.ts";
export * from "./store.ts";
export { parseManifest, storeFailure } from "./storeReads.ts";
export { parseStoreUri, type StoreLocation, splitObjectUri } from "./uri.ts";
