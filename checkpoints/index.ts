export { type FileHash, type HashFilesOptions, hashFiles } from "./hashFiles.ts";
export {
  CHECKPOINT_FORMAT,
  CheckpointManifest,
  CheckpointMetrics,
  CheckpointShard,
  CheckpointUnreadableError,
  MANIFEST_FILE,
  NO_PARENT,
  readCheckpointManifest,
  Sha256Hex,
  shardFileName,
} from "./manifest.ts";
export { merkleRoot } from "./merkle.ts";
export { DirectoryExistsError, publishDirectory } from "./publish.ts";
export { type Checkpoint, type ReadCheckpointOptions, readCheckpoint } from "./read.ts";
export {
  parseSafetensors,
  readSafetensorsHeader,
  SafetensorsFormatError,
  type SafetensorsHeader,
} from "./safetensors.ts";
export {
  type DType,
  type FloatDType,
  floatTensor,
  type Tensor,
  type Tensors,
  toFloat32,
} from "./tensor.ts";
export {
  type CheckpointVerification,
  CheckpointVerificationError,
  compareShards,
  hashCheckpoint,
  type ShardCheck,
  type ShardedManifest,
  verifyCheckpoint,
} from "./verify.ts";
export {
  type CheckpointFields,
  DEFAULT_MAX_SHARD_BYTES,
  planShards,
  type WriteCheckpointOptions,
  writeCheckpoint,
  writeSafetensorsFile,
} from "./write.ts";
