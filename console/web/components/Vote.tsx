import type { Address } from "viem";
import { useAccount, useReadContracts } from "wagmi";
import { daoTrainTokenAbi } from "../../../contracts/abi/DaoTrainToken.ts";
import { tokenVotingAbi } from "../../../governance/osxAbi.ts";
import type { Proposal } from "../../api.ts";
import { useConsoleConfig } from "../context.ts";
import { explainError } from "../errors.ts";
import { duration, short, utc } from "../format.ts";
import { useSend, VOTE_OPTIONS, type VoteChoice } from "../transactions.ts";

const CHOICES = Object.keys(VOTE_OPTIONS) as VoteChoice[];
const choiceOf = (option: number) => CHOICES.find((c) => VOTE_OPTIONS[c] === option);

function Outcome({ send }: { send: ReturnType<typeof useSend> }) {
  if (send.isPending) return <output>Waiting for the wallet and the chain…</output>;
  if (send.error)
    return (
      <p role="alert" className="error">
        {explainError(send.error)}
      </p>
    );
  if (send.data)
    return (
      <output className="ok">
        Done: transaction <code title={send.data}>{short(send.data)}</code> is on-chain.
      </output>
    );
  return null;
}

/** Why the connected account cannot vote, in one sentence, or undefined when it can. */
function useVoteBlocker(proposal: Proposal): string | undefined {
  const config = useConsoleConfig();
  const { address, isConnected, chainId } = useAccount();
  const reads = useReadContracts({
    allowFailure: false,
    query: { enabled: address !== undefined },
    contracts: [
      {
        address: config.dao.token as Address,
        abi: daoTrainTokenAbi,
        functionName: "getPastVotes",
        args: [address ?? "0x0000000000000000000000000000000000000000", BigInt(proposal.snapshotBlock)],
      },
      {
        address: config.dao.tokenVoting as Address,
        abi: tokenVotingAbi,
        functionName: "getVoteOption",
        args: [BigInt(proposal.id), address ?? "0x0000000000000000000000000000000000000000"],
      },
    ],
  });
  if (!isConnected || !address) return "Connect a wallet to vote.";
  if (chainId !== config.chain.id) return `Switch your wallet to chain ${config.chain.id} to vote.`;
  if (!reads.data) return reads.error ? explainError(reads.error) : "Reading your voting power…";
  const [power, option] = reads.data;
  if (power === 0n)
    return `This account held no voting power when the proposal was created (block ${proposal.snapshotBlock}), so it cannot vote on it: only members who held tokens then can.`;
  if (option !== 0)
    return `This account already voted ${choiceOf(option) ?? "on this proposal"}; a vote cannot be changed.`;
  return undefined;
}

/** Yes / no / abstain from the connected wallet, or why this account cannot vote. */
export function VotePanel({ proposal }: { proposal: Proposal }) {
  const send = useSend();
  const blocker = useVoteBlocker(proposal);
  if (proposal.state !== "active")
    return <p>Voting is {proposal.state === "pending" ? "not open yet" : "closed"}.</p>;
  return (
    <section aria-label="Vote" className="panel">
      <h2>Vote</h2>
      {blocker && !send.data ? <p className="blocker">{blocker}</p> : null}
      <div className="buttons">
        {CHOICES.map((choice) => (
          <button
            key={choice}
            type="button"
            className={`vote-${choice}`}
            disabled={blocker !== undefined || send.isPending}
            onClick={() => send.mutate({ kind: "vote", proposalId: proposal.id, choice })}
          >
            {choice === "abstain" ? "Abstain" : `Vote ${choice}`}
          </button>
        ))}
      </div>
      <Outcome send={send} />
    </section>
  );
}

/** Execute once the proposal passed (anyone may), or why it cannot be executed yet. */
export function ExecutePanel({ proposal, chainNow }: { proposal: Proposal; chainNow: number }) {
  const config = useConsoleConfig();
  const { isConnected, chainId } = useAccount();
  const send = useSend();
  if (proposal.state === "executed")
    return (
      <section aria-label="Execute" className="panel">
        <h2>Execute</h2>
        <p className="ok">Executed: its actions have run.</p>
        <Outcome send={send} />
      </section>
    );
  const blocker = !proposal.executable
    ? proposal.state === "defeated"
      ? "It did not pass (support or participation fell short), so it can never be executed."
      : `It cannot be executed yet: the vote ends in ${duration(proposal.endDate - chainNow)} (${utc(proposal.endDate)}), and then only if support and participation are reached.`
    : !isConnected
      ? "It passed: connect a wallet to execute it (any account may)."
      : chainId !== config.chain.id
        ? `Switch your wallet to chain ${config.chain.id} to execute it.`
        : undefined;
  return (
    <section aria-label="Execute" className="panel">
      <h2>Execute</h2>
      {blocker ? (
        <p className="blocker">{blocker}</p>
      ) : (
        <p>It passed: executing runs its actions on-chain.</p>
      )}
      <button
        type="button"
        disabled={blocker !== undefined || send.isPending}
        onClick={() => send.mutate({ kind: "execute", proposalId: proposal.id })}
      >
        Execute proposal
      </button>
      <Outcome send={send} />
    </section>
  );
}
