export { BACKENDS, type BackendChoice, type BackendName, describeBackend, selectBackend } from "./backend.ts";
export { TrainingBatches, validationBatches } from "./batches.ts";
export { evaluateLoss, heldOutBatches, lossOfValues, meanLoss, modelValues } from "./evaluate.ts";
export { type Batch, lossOf, type ModelParams, paramsToTensors, tensorsToValues } from "./forward.ts";
export {
  initialCheckpoint,
  initialParameters,
  parameterShapes,
  RUN_SPEC_METADATA_KEY,
  runSpecFromMetadata,
  runSpecMetadata,
  toTensors,
} from "./parameters.ts";
export {
  heldOutScoringBatches,
  type ReplicaScores,
  SCORING_SHARDS,
  sameScores,
  scoreReplica,
  scoringBatches,
  scoringSeedHex,
  scoringSeedOf,
  scoringShards,
} from "./replicaScores.ts";
