export {
  aggregate,
  l2Norm,
  type OuterOptimizer,
  outerUpdate,
  pseudoGradient,
  trimCount,
} from "./outerMath.ts";
export {
  MOMENTUM_PREFIX,
  NoQuorumError,
  type OuterStepInput,
  type OuterStepResult,
  outerStep,
  type Rejection,
  type RejectionReason,
  type ReplicaInput,
} from "./outerStep.ts";
