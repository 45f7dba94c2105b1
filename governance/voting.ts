import type { Hex } from "viem";
import type { Governance } from "./chain.ts";
import { decodeRevert, requireWallet } from "./chain.ts";
import { CannotVoteError, ProposalNotExecutableError } from "./errors.ts";
import { proposalMetadataUri } from "./metadata.ts";
import { getProposal } from "./proposalReads.ts";
import type { ProposalDraft } from "./proposals.ts";
import { loadSdk, sdkProposalId, tokenVotingClient } from "./sdk.ts";

// Proposal creation, votes and execution go through Aragon's SDK: these only call TokenVoting,
// which the SDK does against any addresses its Context names.

export const VOTE_CHOICES = ["yes", "no", "abstain"] as const;
export type VoteChoice = (typeof VOTE_CHOICES)[number];

export interface ProposeOptions {
  /** When the vote ends; by default the DAO's minimum duration after it starts. */
  endDate?: Date;
}

export interface Submitted {
  proposalId: bigint;
  txHash: Hex;
}

/** Opens a vote on the draft's actions, its metadata inline in the shape Aragon's apps read. */
export async function propose(
  governance: Governance,
  draft: ProposalDraft,
  options: ProposeOptions = {},
): Promise<Submitted> {
  const client = await tokenVotingClient(governance, "proposing");
  const { ProposalCreationSteps } = await loadSdk();
  let txHash: Hex | undefined;
  try {
    for await (const step of client.methods.createProposal({
      pluginAddress: governance.deployment.dao.tokenVoting,
      metadataUri: proposalMetadataUri(draft),
      actions: draft.actions.map((a) => ({
        to: a.to,
        value: a.value,
        data: Buffer.from(a.data.slice(2), "hex"),
      })),
      ...(options.endDate ? { endDate: options.endDate } : {}),
    })) {
      if (step.key === ProposalCreationSteps.CREATING) txHash = step.txHash as Hex;
      else return { proposalId: BigInt(step.proposalId.split("_")[1] ?? "0x0"), txHash: txHash ?? "0x" };
    }
  } catch (error) {
    throw decodeRevert("creating the proposal", error);
  }
  throw new Error("creating the proposal: the SDK finished without a proposal id");
}

export async function vote(governance: Governance, proposalId: bigint, choice: VoteChoice): Promise<Hex> {
  const voter = requireWallet(governance, "voting").account.address;
  const client = await tokenVotingClient(governance, "voting");
  const { VoteProposalStep, VoteValues } = await loadSdk();
  const voteValues = { yes: VoteValues.YES, no: VoteValues.NO, abstain: VoteValues.ABSTAIN } as const;
  const id = sdkProposalId(governance.deployment.dao.tokenVoting, proposalId);
  const proposal = await getProposal(governance, proposalId);
  if (proposal.state !== "active") {
    throw new CannotVoteError(proposalId, voter, `the vote is ${proposal.state}, not active`);
  }
  if (
    !(await client.methods.canVote({ proposalId: id, voterAddressOrEns: voter, vote: voteValues[choice] }))
  ) {
    throw new CannotVoteError(
      proposalId,
      voter,
      `it held no voting power at the proposal's snapshot block ${proposal.snapshotBlock} or has voted already`,
    );
  }
  let txHash: Hex = "0x";
  for await (const step of client.methods.voteProposal({ proposalId: id, vote: voteValues[choice] })) {
    if (step.key === VoteProposalStep.VOTING) txHash = step.txHash as Hex;
  }
  return txHash;
}

export async function execute(governance: Governance, proposalId: bigint): Promise<Hex> {
  const client = await tokenVotingClient(governance, "executing");
  const { ExecuteProposalStep } = await loadSdk();
  const id = sdkProposalId(governance.deployment.dao.tokenVoting, proposalId);
  if (!(await client.methods.canExecute(id))) {
    const proposal = await getProposal(governance, proposalId);
    const hint =
      proposal.state === "active" || proposal.state === "pending"
        ? `its vote ends at ${new Date(Number(proposal.endDate) * 1000).toISOString()}`
        : proposal.state === "defeated"
          ? `it did not reach support ${proposal.supportThreshold / 10_000}% and participation of ${proposal.minVotingPower} votes (yes ${proposal.tally.yes}, no ${proposal.tally.no}, abstain ${proposal.tally.abstain})`
          : "nothing is left to do";
    throw new ProposalNotExecutableError(proposalId, proposal.state, hint);
  }
  let txHash: Hex = "0x";
  try {
    for await (const step of client.methods.executeProposal(id)) {
      if (step.key === ExecuteProposalStep.EXECUTING) txHash = step.txHash as Hex;
    }
  } catch (error) {
    throw decodeRevert("executing the proposal", error);
  }
  return txHash;
}
