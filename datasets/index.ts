export {
  assignShards,
  DATASET_FORMAT,
  DatasetError,
  DatasetManifest,
  DatasetShard,
  readDatasetManifest,
  trainShardIndices,
} from "./manifest.ts";
export { DEFAULT_SHARD_TOKENS, type PackOptions, packDataset } from "./pack.ts";
export { type Dataset, openDataset } from "./read.ts";
export { byteTokenizer } from "./tokenizer.ts";
