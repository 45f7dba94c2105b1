import { useEffect } from "react";
import { Link } from "wouter";
import { API_PATHS, ProposalList } from "../../api.ts";
import { useApi } from "../api.ts";
import { QueryState } from "../components/QueryState.tsx";
import { StateBadge, TimeLeft } from "../components/Tally.tsx";

/** Every proposal, newest first: what it is, where its vote stands, how long is left. */
export function ProposalsPage() {
  const query = useApi(API_PATHS.proposals, ProposalList);
  const loaded = query.data !== undefined;
  useEffect(() => {
    // The time to first render a bench reads (performance.getEntriesByName("proposals-rendered")).
    if (loaded && performance.getEntriesByName("proposals-rendered").length === 0)
      performance.mark("proposals-rendered");
  }, [loaded]);
  return (
    <>
      <h1>Proposals</h1>
      <QueryState query={query}>
        {({ proposals, chainNow }) =>
          proposals.length === 0 ? (
            <p>No proposals yet. Members create them with `daotrain propose …`.</p>
          ) : (
            <ol className="cards" aria-label="Proposals, newest first">
              {proposals.map((p) => (
                <li key={p.id}>
                  <article className="card">
                    <h2>
                      <Link href={`/proposals/${p.id}`}>
                        #{p.id} {p.title}
                      </Link>{" "}
                      <StateBadge state={p.state} />
                    </h2>
                    <p>{p.summary}</p>
                    <TimeLeft proposal={p} chainNow={chainNow} />
                    <p>
                      Support {p.supportReached ? "reached" : "not reached"}, participation{" "}
                      {p.participationReached ? "reached" : "not reached"}
                      {p.executable ? "; ready to execute" : ""}.
                    </p>
                  </article>
                </li>
              ))}
            </ol>
          )
        }
      </QueryState>
    </>
  );
}
