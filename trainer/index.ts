export { BACKENDS, type BackendChoice, type BackendName, describeBackend, selectBackend } from "./backend.ts";
export { evaluateLoss, heldOutBatches, lossOfValues, modelValues } from "./evaluate.ts";
export { InputMismatchError, stagedInput } from "./io.ts";
export {
  initialCheckpoint,
  initialParameters,
  parameterShapes,
  RUN_SPEC_METADATA_KEY,
  runSpecFromMetadata,
  runSpecMetadata,
  toTensors,
} from "./parameters.ts";
export { runTrainer, type TrainerResult } from "./run.ts";
