import { Link } from "wouter";
import { API_PATHS, CheckpointList } from "../../api.ts";
import { useApi } from "../api.ts";
import { QueryState } from "../components/QueryState.tsx";

/** Released checkpoints: their roots, and the commands that download and verify them. */
export function CheckpointsPage() {
  const query = useApi(API_PATHS.checkpoints, CheckpointList);
  return (
    <>
      <h1>Checkpoints</h1>
      <p>
        Released rounds only. A download reads the root from the chain and verifies every shard against it
        before it writes a file; <code>sha256sum</code> checks the files again at any time.
      </p>
      <QueryState query={query}>
        {({ checkpoints }) =>
          checkpoints.length === 0 ? (
            <p>No checkpoint is released yet: the DAO releases a committed round by vote.</p>
          ) : (
            <ol className="cards" aria-label="Released checkpoints">
              {checkpoints.map((c) => (
                <li key={`${c.runId}-${c.round}`}>
                  <article className="card">
                    <h2>
                      <Link href={`/runs/${c.runId}`}>{c.runName}</Link>, round {c.round}
                    </h2>
                    <dl className="facts">
                      <dt>Root</dt>
                      <dd>
                        <code>{c.root}</code>
                      </dd>
                      <dt>Loss</dt>
                      <dd>
                        held-out {c.valLoss.toFixed(4)}, train {c.loss.toFixed(4)}
                      </dd>
                      <dt>Published</dt>
                      <dd>
                        {c.published
                          ? "yes, to the public store"
                          : "not yet: the release workflow is publishing it"}
                      </dd>
                      <dt>Attestations</dt>
                      <dd>
                        {c.attestations.tracked
                          ? `${c.attestations.count} of ${c.attestations.quorum} verifiers`
                          : "none: the round has no commit"}
                      </dd>
                    </dl>
                    <p>Download and verify against the chain:</p>
                    <pre>
                      <code className="command">{c.downloadCommand}</code>
                    </pre>
                    <p>Check the files again later:</p>
                    <pre>
                      <code className="command">{c.verifyCommand}</code>
                    </pre>
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
