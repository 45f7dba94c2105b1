import { type Log, parseEventLogs } from "viem";
import {
  checkpointRegistryAbi,
  clusterRegistryAbi,
  datasetRegistryAbi,
  runRegistryAbi,
} from "../contracts/abi/index.ts";
import type { Governance } from "./chain.ts";
import type { Deployment } from "./deployment.ts";
import { tokenVotingAbi } from "./osxAbi.ts";

// Event paging for the governance watcher. Each call reads one closed block range
// [cursor.nextBlock, to] and returns its events and the cursor after it, so a caller that
// persists the returned cursor with what it did with the events resumes where it stopped:
// no range is read twice and none is skipped. Temporal activities call this repeatedly.

const watchedAbi = [
  ...datasetRegistryAbi,
  ...clusterRegistryAbi,
  ...runRegistryAbi,
  ...checkpointRegistryAbi,
  ...tokenVotingAbi,
] as const;

/** JSON-safe, so it can be a workflow's state. */
export interface EventCursor {
  nextBlock: number;
}

export type GovernanceEvent = ReturnType<typeof parseEventLogs<typeof watchedAbi>>[number];

export interface PollEventsOptions {
  cursor: EventCursor;
  /** The most blocks one call reads (RPC providers cap getLogs ranges). */
  maxBlocks?: number;
  /** Leave this many newest blocks for a later call, so a reorg cannot retract delivered events. */
  confirmations?: number;
}

export interface PollEventsResult {
  /** In chain order: by block, then by log index. */
  events: GovernanceEvent[];
  cursor: EventCursor;
  /** True when the cursor reached the confirmed head: a caller may wait before polling again. */
  caughtUp: boolean;
}

/** Development chains (anvil, hardhat) reorganise only when told to. */
const DEVELOPMENT_CHAIN_IDS = new Set([31_337, 1_337]);

/** Blocks an event must be buried under before a follower acts on it, unless told otherwise. */
export function defaultConfirmations(chainId: number): number {
  return DEVELOPMENT_CHAIN_IDS.has(chainId) ? 0 : 12;
}

export function initialCursor(deployment: Deployment): EventCursor {
  return { nextBlock: deployment.startBlock };
}

export async function pollEvents(
  governance: Governance,
  options: PollEventsOptions,
): Promise<PollEventsResult> {
  const maxBlocks = options.maxBlocks ?? 2000;
  const head = Number(await governance.publicClient.getBlockNumber()) - (options.confirmations ?? 0);
  const from = options.cursor.nextBlock;
  if (from > head) return { events: [], cursor: options.cursor, caughtUp: true };
  const to = Math.min(head, from + maxBlocks - 1);
  const { contracts, dao } = governance.deployment;
  const logs: Log[] = await governance.publicClient.getLogs({
    address: [...Object.values(contracts), dao.tokenVoting],
    fromBlock: BigInt(from),
    toBlock: BigInt(to),
  });
  const events = parseEventLogs({ abi: watchedAbi, logs }).sort(
    (a, b) => Number(a.blockNumber - b.blockNumber) || a.logIndex - b.logIndex,
  );
  return { events, cursor: { nextBlock: to + 1 }, caughtUp: to === head };
}
