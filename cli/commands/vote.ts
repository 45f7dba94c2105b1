import type { Command } from "commander";
import { type ReleaseAttestations, releaseAttestations } from "../../governance/attestations.ts";
import { getProposal, listProposals, type ProposalView } from "../../governance/proposalReads.ts";
import { execute, VOTE_CHOICES, type VoteChoice, vote } from "../../governance/voting.ts";
import { oneOf } from "../program.ts";
import {
  type ChainOptions,
  connectFrom,
  printJson,
  tokens,
  wholeNumber,
  withChainOptions,
} from "./governanceOptions.ts";

const when = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString().replace(".000Z", "Z");

function describeProposal(p: ProposalView): string {
  const cast = p.tally.yes + p.tally.no + p.tally.abstain;
  return `${String(p.id).padStart(3)}  ${p.state.padEnd(9)}  yes ${tokens(p.tally.yes)} / no ${tokens(p.tally.no)} / abstain ${tokens(p.tally.abstain)} (quorum ${tokens(cast)} of ${tokens(p.minVotingPower)})  ends ${when(p.endDate)}  ${p.title}`;
}

/** A release's round as verifiers stand on it now: what `releaseCheckpoint` will count. */
function describeRelease({ runId, round, attestations: a }: ReleaseAttestations): string {
  const what = `       releases run ${runId} round ${round}:`;
  if (!a.tracked) return `${what} not committed`;
  const who = a.verifiers.length ? ` (${a.verifiers.join(", ")})` : "";
  const dispute = a.dispute === "none" ? "" : `; dispute ${a.dispute}`;
  return `${what} ${a.count} of ${a.quorum} attestation(s) needed${who}${dispute}`;
}

export function register(program: Command): void {
  withChainOptions(
    program
      .command("vote")
      .description("vote on a proposal with the key's voting power at the proposal's snapshot")
      .argument("<proposal>", "the proposal number", wholeNumber)
      .argument("<choice>", VOTE_CHOICES.join("|"), oneOf(VOTE_CHOICES)),
    { write: true },
  ).action(async (proposalId: bigint, vote_: VoteChoice, options: ChainOptions) => {
    const governance = await connectFrom(options);
    const txHash = await vote(governance, proposalId, vote_);
    const proposal = await getProposal(governance, proposalId);
    if (options.json) return printJson({ txHash, proposal });
    process.stdout.write(`voted ${vote_}\n${describeProposal(proposal)}\n`);
  });

  withChainOptions(
    program
      .command("execute")
      .description("execute a proposal that passed: the DAO performs its actions")
      .argument("<proposal>", "the proposal number", wholeNumber),
    { write: true },
  ).action(async (proposalId: bigint, options: ChainOptions) => {
    const governance = await connectFrom(options);
    const txHash = await execute(governance, proposalId);
    if (options.json) return printJson({ proposalId, txHash });
    process.stdout.write(`executed proposal ${proposalId} (${txHash})\n`);
  });

  withChainOptions(
    program
      .command("proposals")
      .description(
        "list the DAO's proposals with their tallies and state; a release shows how many verifiers attested its round now",
      ),
    { write: false },
  ).action(async (options: ChainOptions) => {
    const governance = await connectFrom(options);
    const proposals = await Promise.all(
      (await listProposals(governance)).map(async (proposal) => ({
        ...proposal,
        releases: await releaseAttestations(governance, proposal.actions),
      })),
    );
    if (options.json) return printJson(proposals);
    process.stdout.write(
      proposals.length
        ? `${proposals.map((p) => [describeProposal(p), ...p.releases.map(describeRelease)].join("\n")).join("\n")}\n`
        : "no proposals yet\n",
    );
  });
}
