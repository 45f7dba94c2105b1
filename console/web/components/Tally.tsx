import type { Proposal } from "../../api.ts";
import { useConsoleConfig } from "../context.ts";
import { duration, percentPpm, tokens, utc } from "../format.ts";

const share = (part: bigint, whole: bigint) =>
  whole === 0n ? "0%" : `${(Number((part * 10_000n) / whole) / 100).toLocaleString("en-US")}%`;

/** The live tally against the rules the proposal must meet: support and minimum participation. */
export function Tally({ proposal }: { proposal: Proposal }) {
  const { token } = useConsoleConfig();
  const amount = (units: bigint | string) => tokens(units, token.symbol, token.decimals);
  const yes = BigInt(proposal.tally.yes);
  const no = BigInt(proposal.tally.no);
  const abstain = BigInt(proposal.tally.abstain);
  const cast = yes + no + abstain;
  const total = BigInt(proposal.totalVotingPower);
  return (
    <section className="tally" aria-label="Tally">
      <table>
        <caption>Votes cast so far</caption>
        <tbody>
          <tr>
            <th scope="row">Yes</th>
            <td>{amount(yes)}</td>
          </tr>
          <tr>
            <th scope="row">No</th>
            <td>{amount(no)}</td>
          </tr>
          <tr>
            <th scope="row">Abstain</th>
            <td>{amount(abstain)}</td>
          </tr>
        </tbody>
      </table>
      <ul className="rules">
        <li className={proposal.supportReached ? "ok" : "pending"}>
          Support: {share(yes, yes + no)} yes of yes + no; passing needs more than{" "}
          {percentPpm(proposal.supportThreshold)} — {proposal.supportReached ? "reached" : "not reached"}.
        </li>
        <li className={proposal.participationReached ? "ok" : "pending"}>
          Participation: {amount(cast)} cast ({share(cast, total)} of {amount(total)}); needs at least{" "}
          {amount(proposal.minVotingPower)} — {proposal.participationReached ? "reached" : "not reached"}.
        </li>
      </ul>
    </section>
  );
}

/** When voting ends (or ended), by the chain's clock. */
export function TimeLeft({ proposal, chainNow }: { proposal: Proposal; chainNow: number }) {
  if (proposal.state === "pending")
    return (
      <p>
        Voting starts in {duration(proposal.startDate - chainNow)} ({utc(proposal.startDate)}).
      </p>
    );
  if (proposal.state === "active" && chainNow < proposal.endDate)
    return (
      <p>
        <strong>{duration(proposal.endDate - chainNow)} left</strong> to vote (ends {utc(proposal.endDate)}).
      </p>
    );
  return <p>Voting ended {utc(proposal.endDate)}.</p>;
}

export function StateBadge({ state }: { state: Proposal["state"] }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}
