import { keccak256, toBytes } from "viem";

/** Needed by the DAO itself on every registry: `dao.grant(registry, dao, GOVERNANCE_PERMISSION_ID)`. */
export const GOVERNANCE_PERMISSION_ID = keccak256(toBytes("DAOTRAIN_GOVERNANCE_PERMISSION"));
/** Granted to the orchestrator on RunRegistry and CheckpointRegistry. */
export const OPERATOR_PERMISSION_ID = keccak256(toBytes("DAOTRAIN_OPERATOR_PERMISSION"));
