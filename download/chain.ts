import type { Governance } from "../governance/chain.ts";
import { checkpointCommits, checkpointReleaseTx } from "../governance/history.ts";
import {
  getCheckpoint,
  getDataset,
  getRun,
  latestReleasedRound,
  releasedRounds,
} from "../governance/reads.ts";
import type { ReleaseFacts } from "../release/card.ts";
import type { Bytes32 } from "../spec/runSpec.ts";
import type { ChainCheckpoint } from "./download.ts";
import { CheckpointNotReleasedError } from "./errors.ts";

// What a download trusts comes from the chain alone: the committed root, whether the DAO
// released the round, and where the release was published.

export async function releasedRoundNumbers(governance: Governance, runId: Bytes32): Promise<number[]> {
  return (await releasedRounds(governance, runId)).map(Number).sort((a, b) => a - b);
}

/** The round asked for, or the latest released one; a run with none released is refused. */
export async function pickReleasedRound(
  governance: Governance,
  runId: Bytes32,
  round: number | undefined,
): Promise<number> {
  if (round !== undefined) return round;
  const latest = await latestReleasedRound(governance, runId);
  if (latest === undefined) throw new CheckpointNotReleasedError(runId, undefined, []);
  return Number(latest);
}

/**
 * The checkpoint as the chain records it, read from where it was published when the operator
 * recorded a publication (the public store), else from the committed manifest URI. A round with
 * no commit is refused like an unreleased one.
 */
export async function chainCheckpoint(
  governance: Governance,
  runId: Bytes32,
  round: number,
): Promise<ChainCheckpoint> {
  const view = await getCheckpoint(governance, runId, BigInt(round));
  if (!view.committed) {
    throw new CheckpointNotReleasedError(runId, round, await releasedRoundNumbers(governance, runId));
  }
  return {
    runId,
    round,
    root: view.root,
    manifestUri: view.publishedManifestUri ?? view.manifestUri,
    released: view.released,
  };
}

/**
 * The chain's facts a release's model card states: the run's dataset and its license, every round
 * up to the released one with its root and commit transaction, and the release transaction. All of
 * them are fixed once the round is released, so a verifier reads the same ones later.
 */
export async function releaseFacts(
  governance: Governance,
  runId: Bytes32,
  round: number,
): Promise<ReleaseFacts> {
  const [run, commits, releaseTx] = await Promise.all([
    getRun(governance, runId),
    checkpointCommits(governance, runId),
    checkpointReleaseTx(governance, runId, round),
  ]);
  if (releaseTx === undefined) {
    throw new CheckpointNotReleasedError(runId, round, await releasedRoundNumbers(governance, runId));
  }
  const dataset = await getDataset(governance, run.datasetRoot);
  return {
    chainId: governance.deployment.chainId,
    checkpointRegistry: governance.deployment.contracts.checkpointRegistry,
    runId,
    round,
    dataset: { root: dataset.root, uri: dataset.uri, license: dataset.license },
    rounds: commits
      .filter((commit) => commit.round <= round)
      .map((commit) => ({
        round: commit.round,
        root: commit.root,
        commitTx: commit.txHash,
        loss: commit.metrics.loss,
        valLoss: commit.metrics.valLoss,
      })),
    releaseTx,
  };
}
