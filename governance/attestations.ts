import type { Address, Hex } from "viem";
import type { Governance } from "./chain.ts";

/**
 * What verifiers said about a committed round before the DAO releases it (issue 14): how many
 * attested its root, who, against the quorum the DAO set, and whether a dispute holds it.
 * `tracked: false` where the deployment's CheckpointRegistry records no attestations.
 */
export type RoundAttestations =
  | { tracked: false }
  | { tracked: true; count: number; quorum: number; verifiers: Address[]; disputed: boolean };

/**
 * The attestations of (run, round). This deployment's CheckpointRegistry has no `attestRound`
 * yet — the contracts change that adds it replaces this body with its views; callers already
 * show both shapes.
 */
export async function roundAttestations(
  _governance: Governance,
  _runId: Hex,
  _round: bigint,
): Promise<RoundAttestations> {
  return { tracked: false };
}
