export { BACKENDS, type BackendChoice, type BackendName, describeBackend, selectBackend } from "./backend.ts";
export { evaluateLoss, heldOutBatches, lossOfValues, modelValues } from "./evaluate.ts";
export {
  initialCheckpoint,
  initialParameters,
  parameterShapes,
  RUN_SPEC_METADATA_KEY,
  runSpecFromMetadata,
  runSpecMetadata,
  toTensors,
} from "./parameters.ts";
export { InputMismatchError, runTrainer, type TrainerResult } from "./run.ts";
export { localPathOf } from "./uri.ts";
