import { keccak256, toBytes } from "viem";

/** Needed by the DAO itself on every registry: `dao.grant(registry, dao, GOVERNANCE_PERMISSION_ID)`. */
export const GOVERNANCE_PERMISSION_ID = keccak256(toBytes("DAOTRAIN_GOVERNANCE_PERMISSION"));
/** Granted to the orchestrator on RunRegistry and CheckpointRegistry. */
export const OPERATOR_PERMISSION_ID = keccak256(toBytes("DAOTRAIN_OPERATOR_PERMISSION"));
/** Granted on RunRegistry to the CheckpointRegistry alone: it credits a round's compute inside the round's commit. */
export const CREDIT_PERMISSION_ID = keccak256(toBytes("DAOTRAIN_CREDIT_PERMISSION"));
/** Granted on CheckpointRegistry to each verifier the DAO appoints: it attests or disputes committed rounds. */
export const VERIFIER_PERMISSION_ID = keccak256(toBytes("DAOTRAIN_VERIFIER_PERMISSION"));
