export { aggregateReplicas, DEFAULT_AGGREGATION_BUFFER_BYTES } from "./aggregate.ts";
export { checkReplicaManifest, type ReplicaBounds, ReplicaBoundsError, replicaBounds } from "./bounds.ts";
export { type GlobalState, MOMENTUM_PREFIX, readGlobal } from "./global.ts";
export { combine, type OuterOptimizer, outerUpdate, trimCount } from "./outerMath.ts";
export {
  NoQuorumError,
  type OuterStepInput,
  type OuterStepResult,
  outerStep,
  type ReadableReplica,
  type Rejection,
  type RoundManifests,
  roundManifests,
  type ScoredReplica,
  type ScoringRequest,
} from "./outerStep.ts";
export { type ReplicaInput, readReplicaManifest, readReplicaTensors } from "./replica.ts";
export { roundSeed, sketchCoordinates } from "./sampling.ts";
export {
  DEFECT_REASONS,
  type Defect,
  type DefectReason,
  type DeltaMeasure,
  judge,
  REJECTION_REASONS,
  type RejectionReason,
  type ReplicaEvidence,
  type ReplicaScores,
  type RoundEvidence,
  type Verdict,
} from "./verdicts.ts";
