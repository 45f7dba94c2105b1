import { Link } from "wouter";
import { API_PATHS, ProposalList } from "../../api.ts";
import { useApi } from "../api.ts";
import { ActionDescription } from "../components/Actions.tsx";
import { QueryState } from "../components/QueryState.tsx";
import { StateBadge, Tally, TimeLeft } from "../components/Tally.tsx";
import { ExecutePanel, VotePanel } from "../components/Vote.tsx";
import { short } from "../format.ts";

/** One proposal: what it will do in words, the live tally, the time left, vote and execute. */
export function ProposalPage({ id }: { id: number }) {
  const query = useApi(API_PATHS.proposals, ProposalList);
  return (
    <QueryState query={query}>
      {({ proposals, chainNow }) => {
        const proposal = proposals.find((p) => p.id === id);
        if (!proposal)
          return (
            <>
              <h1>Proposal #{id}</h1>
              <p role="alert">
                The DAO has no proposal #{id}. <Link href="/">See every proposal</Link>.
              </p>
            </>
          );
        return (
          <>
            <p>
              <Link href="/">← All proposals</Link>
            </p>
            <h1>
              #{proposal.id} {proposal.title} <StateBadge state={proposal.state} />
            </h1>
            <p className="summary">{proposal.summary}</p>
            {proposal.description ? <p className="description">{proposal.description}</p> : null}
            {proposal.resources.length > 0 ? (
              <ul className="resources" aria-label="Resources">
                {proposal.resources.map((r) => (
                  <li key={r.url}>
                    {r.name}: <code>{r.url}</code>
                  </li>
                ))}
              </ul>
            ) : null}
            <p>
              Proposed by <code title={proposal.creator}>{short(proposal.creator)}</code>.
            </p>
            <TimeLeft proposal={proposal} chainNow={chainNow} />
            <section aria-labelledby="actions-heading">
              <h2 id="actions-heading">What executing it does</h2>
              <ol className="actions">
                {proposal.actions.map((action, index) => (
                  // Actions are positional: their order is what the DAO executes.
                  // biome-ignore lint/suspicious/noArrayIndexKey: a proposal's actions never reorder
                  <li key={index}>
                    <ActionDescription action={action} />
                  </li>
                ))}
              </ol>
            </section>
            <Tally proposal={proposal} />
            <VotePanel proposal={proposal} />
            <ExecutePanel proposal={proposal} chainNow={chainNow} />
          </>
        );
      }}
    </QueryState>
  );
}
