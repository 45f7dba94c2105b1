import type { Address, Hex } from "viem";
import type { Governance } from "./chain.ts";
import { type DisputeState, getAttestations, getCheckpoint } from "./reads.ts";

/**
 * What verifiers said about a committed round before the DAO releases it: how many current
 * verifiers attested its root, who attested (revoked verifiers included), against the quorum the
 * DAO set, and where a dispute of it stands. `tracked: false` for a round with no commit yet.
 */
export type RoundAttestations =
  | { tracked: false }
  | { tracked: true; count: number; quorum: number; verifiers: Address[]; dispute: DisputeState };

/** The attestations of (run, round), as `releaseCheckpoint` will count them. */
export async function roundAttestations(
  governance: Governance,
  runId: Hex,
  round: bigint,
): Promise<RoundAttestations> {
  const checkpoint = await getCheckpoint(governance, runId, round);
  if (!checkpoint.committed) return { tracked: false };
  const { count, attesters, quorum } = await getAttestations(governance, runId, round);
  return {
    tracked: true,
    count: Number(count),
    quorum,
    verifiers: [...attesters],
    dispute: checkpoint.dispute,
  };
}
