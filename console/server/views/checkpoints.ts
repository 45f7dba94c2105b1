import { roundAttestations } from "../../../governance/attestations.ts";
import { approvedRunIds } from "../../../governance/history.ts";
import { getCheckpoint, releasedRounds } from "../../../governance/reads.ts";
import type { CheckpointList } from "../../api.ts";
import type { ConsoleSources } from "../sources.ts";
import { runBasics } from "./runs.ts";

/** The download command a person runs for a released round, and how they check it again later. */
export function downloadCommands(
  runId: string,
  round: number,
): { downloadCommand: string; verifyCommand: string } {
  // `daotrain download` names its output directory this way when --out is not given.
  const out = `${runId.slice(0, 10)}-round-${round}`;
  return {
    downloadCommand: `daotrain download ${runId} --round ${round}`,
    verifyCommand: `cd ${out} && sha256sum -c SHA256SUMS`,
  };
}

/** Every released round of every run, newest run first. */
export async function checkpointsView(sources: ConsoleSources): Promise<CheckpointList> {
  const { governance } = sources;
  const runIds = (await approvedRunIds(governance)).toReversed();
  const perRun = await Promise.all(
    runIds.map(async (runId) => {
      const rounds = await releasedRounds(governance, runId);
      if (rounds.length === 0) return [];
      const { name } = await runBasics(sources, runId);
      return Promise.all(
        rounds.map(async (round) => {
          const [checkpoint, attestations] = await Promise.all([
            getCheckpoint(governance, runId, round),
            roundAttestations(governance, runId, round),
          ]);
          if (!checkpoint.committed) return [];
          return [
            {
              runId,
              runName: name,
              round: Number(round),
              root: checkpoint.root,
              loss: checkpoint.metrics.loss,
              valLoss: checkpoint.metrics.valLoss,
              published: checkpoint.publishedManifestUri !== undefined,
              attestations,
              ...downloadCommands(runId, Number(round)),
            },
          ];
        }),
      );
    }),
  );
  return { checkpoints: perRun.flat(2) };
}
