import type { Address, Hex } from "viem";
import type { Governance } from "./chain.ts";
import { ProposalNotFoundError } from "./errors.ts";
import { decodeMetadata, type ProposalMetadata } from "./metadata.ts";
import { tokenVotingAbi } from "./osxAbi.ts";
import type { DaoAction } from "./proposals.ts";

// Proposals read straight from TokenVoting and its ProposalCreated events: the SDK's readers
// (getProposal, getProposals) query Aragon's subgraph and IPFS, which a local chain lacks.

export type ProposalState = "pending" | "active" | "succeeded" | "defeated" | "executed";

export interface ProposalView extends ProposalMetadata {
  id: bigint;
  creator: Address;
  state: ProposalState;
  /** TokenVoting's canExecute: passed (or decided early) and not executed yet. */
  executable: boolean;
  /** Unix seconds. */
  startDate: bigint;
  endDate: bigint;
  snapshotBlock: bigint;
  tally: { yes: bigint; no: bigint; abstain: bigint };
  /** Votes cast must reach this (minParticipation × voting power at the snapshot). */
  minVotingPower: bigint;
  totalVotingPower: bigint;
  /** Parts per million of yes among yes + no needed to pass. */
  supportThreshold: number;
  actions: DaoAction[];
}

export function stateOf(
  proposal: { executed: boolean; open: boolean; startDate: bigint },
  executable: boolean,
  now: bigint,
): ProposalState {
  if (proposal.executed) return "executed";
  if (now < proposal.startDate) return "pending";
  if (proposal.open) return "active";
  return executable ? "succeeded" : "defeated";
}

async function creations(governance: Governance, proposalId?: bigint) {
  const logs = await governance.publicClient.getContractEvents({
    address: governance.deployment.dao.tokenVoting,
    abi: tokenVotingAbi,
    eventName: "ProposalCreated",
    args: proposalId === undefined ? {} : { proposalId },
    fromBlock: BigInt(governance.deployment.startBlock),
    toBlock: "latest",
  });
  return new Map(logs.map((log) => [log.args.proposalId as bigint, log.args]));
}

async function readProposal(
  governance: Governance,
  id: bigint,
  created: { creator?: Address; metadata?: Hex } | undefined,
  now: bigint,
): Promise<ProposalView> {
  const plugin = { address: governance.deployment.dao.tokenVoting, abi: tokenVotingAbi } as const;
  const [[open, executed, parameters, tally, actions], executable] = await Promise.all([
    governance.publicClient.readContract({ ...plugin, functionName: "getProposal", args: [id] }),
    governance.publicClient.readContract({ ...plugin, functionName: "canExecute", args: [id] }),
  ]);
  const totalVotingPower = await governance.publicClient.readContract({
    ...plugin,
    functionName: "totalVotingPower",
    args: [parameters.snapshotBlock],
  });
  const metadata = decodeMetadata(created?.metadata ?? "0x");
  return {
    id,
    ...metadata,
    creator: created?.creator ?? "0x0000000000000000000000000000000000000000",
    state: stateOf({ executed, open, startDate: parameters.startDate }, executable, now),
    executable,
    startDate: parameters.startDate,
    endDate: parameters.endDate,
    snapshotBlock: parameters.snapshotBlock,
    tally: { yes: tally.yes, no: tally.no, abstain: tally.abstain },
    minVotingPower: parameters.minVotingPower,
    totalVotingPower,
    supportThreshold: parameters.supportThreshold,
    actions: actions.map((a) => ({ to: a.to, value: a.value, data: a.data })),
  };
}

/** The latest block's timestamp: the clock proposals' dates count against (anvil's may run ahead). */
export async function chainNow(governance: Governance): Promise<bigint> {
  return (await governance.publicClient.getBlock({ blockTag: "latest" })).timestamp;
}

export async function proposalCount(governance: Governance): Promise<bigint> {
  return governance.publicClient.readContract({
    address: governance.deployment.dao.tokenVoting,
    abi: tokenVotingAbi,
    functionName: "proposalCount",
  });
}

export async function getProposal(governance: Governance, id: bigint): Promise<ProposalView> {
  const count = await proposalCount(governance);
  if (id < 0n || id >= count) throw new ProposalNotFoundError(id, count);
  const [created, now] = await Promise.all([creations(governance, id), chainNow(governance)]);
  return readProposal(governance, id, created.get(id), now);
}

/** Every proposal of the DAO, oldest first, with its tally and state as of the latest block. */
export async function listProposals(governance: Governance): Promise<ProposalView[]> {
  const [count, created, now] = await Promise.all([
    proposalCount(governance),
    creations(governance),
    chainNow(governance),
  ]);
  const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i));
  return Promise.all(ids.map((id) => readProposal(governance, id, created.get(id), now)));
}

const RATIO_BASE = 1_000_000n;

/**
 * Where a tally stands against the proposal's rules, as TokenVoting v1.0.0 counts at the end of
 * the vote: support is yes against yes + no (strictly above the threshold), participation is
 * every vote cast against the minimum voting power.
 */
export function tallyOutcome(proposal: Pick<ProposalView, "tally" | "supportThreshold" | "minVotingPower">): {
  supportReached: boolean;
  participationReached: boolean;
} {
  const { yes, no, abstain } = proposal.tally;
  const threshold = BigInt(proposal.supportThreshold);
  return {
    supportReached: (RATIO_BASE - threshold) * yes > threshold * no,
    participationReached: yes + no + abstain >= proposal.minVotingPower,
  };
}
