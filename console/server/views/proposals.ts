import { chainNow, listProposals, tallyOutcome } from "../../../governance/proposalReads.ts";
import type { ProposalList } from "../../api.ts";
import { explainActions } from "../explainActions.ts";
import type { ConsoleSources } from "../sources.ts";

/** Every proposal, newest first, with its tally against the rules and its actions in words. */
export async function proposalsView(sources: ConsoleSources): Promise<ProposalList> {
  const [proposals, now] = await Promise.all([
    listProposals(sources.governance),
    chainNow(sources.governance),
  ]);
  const shown = await Promise.all(
    proposals.toReversed().map(async (p) => ({
      id: Number(p.id),
      title: p.title,
      summary: p.summary,
      description: p.description,
      resources: p.resources.slice(0, 20),
      creator: p.creator,
      state: p.state,
      startDate: Number(p.startDate),
      endDate: Number(p.endDate),
      snapshotBlock: Number(p.snapshotBlock),
      tally: { yes: String(p.tally.yes), no: String(p.tally.no), abstain: String(p.tally.abstain) },
      totalVotingPower: String(p.totalVotingPower),
      minVotingPower: String(p.minVotingPower),
      supportThreshold: p.supportThreshold,
      ...tallyOutcome(p),
      executable: p.executable,
      actions: await explainActions(sources, p.actions),
    })),
  );
  return { chainNow: Number(now), proposals: shown };
}
