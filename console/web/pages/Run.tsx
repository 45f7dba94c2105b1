import { Link } from "wouter";
import { API_PATHS, type ReplicaView, RunDetail } from "../../api.ts";
import { useApi } from "../api.ts";
import { LossChart } from "../components/LossChart.tsx";
import { QueryState } from "../components/QueryState.tsx";
import { ShareCells } from "../components/Shares.tsx";
import { useConsoleConfig } from "../context.ts";
import { gpuHours, short, tokens } from "../format.ts";

function Replicas({ replicas, caption }: { replicas: ReplicaView[]; caption: string }) {
  return (
    <table className="replicas">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Replica</th>
          <th scope="col">Cluster</th>
          <th scope="col">Attempt</th>
          <th scope="col">Verdict</th>
          <th scope="col">Reason</th>
          <th scope="col">GPU-seconds</th>
        </tr>
      </thead>
      <tbody>
        {replicas.map((r) => (
          <tr key={`${r.replica}-${r.attempt}-${r.cluster}`}>
            <td>{r.replica}</td>
            <td>{r.cluster}</td>
            <td>{r.attempt}</td>
            <td className={`phase-${r.phase}`}>{r.phase}</td>
            <td>{r.reason ?? ""}</td>
            <td>{r.gpuSeconds ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One run: its state, rounds with the loss curve, replicas' verdicts, contributors' shares. */
export function RunPage({ runId }: { runId: string }) {
  const { token } = useConsoleConfig();
  const amount = (units: string) => tokens(units, token.symbol, token.decimals);
  const query = useApi(API_PATHS.run(runId), RunDetail);
  return (
    <>
      <p>
        <Link href="/runs">← All runs</Link>
      </p>
      <QueryState query={query}>
        {(run) => (
          <>
            <h1>
              Run {run.spec.readable ? run.spec.name : short(run.runId)}{" "}
              <span className="badge">{run.status}</span>
            </h1>
            <dl className="facts">
              <dt>Run id</dt>
              <dd>
                <code>{run.runId}</code>
              </dd>
              <dt>Orchestrator</dt>
              <dd>
                {run.live.available
                  ? `${run.live.state}${run.live.reason ? ` (${run.live.reason})` : ""}`
                  : run.live.why}
              </dd>
              {run.failureReason ? (
                <>
                  <dt>Failed because</dt>
                  <dd>{run.failureReason}</dd>
                </>
              ) : null}
              <dt>Dataset</dt>
              <dd>
                <code title={run.datasetRoot}>{short(run.datasetRoot)}</code>
              </dd>
              <dt>Compute</dt>
              <dd>
                {gpuHours(run.gpuSecondsRecorded)} verified of {gpuHours(run.gpuSecondsBudget)}, at{" "}
                {amount(run.rewardPerGpuHour)} per GPU-hour
              </dd>
              <dt>Escrow</dt>
              <dd>
                funded {amount(run.escrow.funded)}; credited {amount(run.escrow.credited)}; paid{" "}
                {amount(run.escrow.paid)}; refunded {amount(run.escrow.refunded)}; held{" "}
                {amount(run.escrow.balance)}
              </dd>
            </dl>
            <h2>Loss</h2>
            <LossChart rounds={run.rounds} />
            {run.live.available && run.live.current ? (
              <section aria-label="Round in flight">
                <h2>
                  Round {run.live.current.round} in flight (attempt {run.live.current.attempt})
                </h2>
                <Replicas replicas={run.live.current.replicas} caption="Replicas of the round in flight" />
              </section>
            ) : null}
            <h2>Rounds</h2>
            {run.rounds.length === 0 ? (
              <p>No round is committed yet.</p>
            ) : (
              <table className="rounds">
                <caption>Committed rounds: roots and metrics as the chain records them</caption>
                <thead>
                  <tr>
                    <th scope="col">Round</th>
                    <th scope="col">Train loss</th>
                    <th scope="col">Held-out loss</th>
                    <th scope="col">GPU-seconds</th>
                    <th scope="col">Released</th>
                    <th scope="col">Root</th>
                    <th scope="col">Commit transaction</th>
                  </tr>
                </thead>
                <tbody>
                  {run.rounds.map((r) => (
                    <tr key={r.round}>
                      <td>{r.round}</td>
                      <td>{r.loss.toFixed(4)}</td>
                      <td>{r.valLoss.toFixed(4)}</td>
                      <td>{r.gpuSeconds}</td>
                      <td>{r.released ? "yes" : "no"}</td>
                      <td>
                        <code title={r.root}>{short(r.root)}</code>
                      </td>
                      <td>
                        <code title={r.commitTx}>{short(r.commitTx)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {run.rounds.map((r) =>
              r.replicas ? (
                <details key={r.round}>
                  <summary>Round {r.round}: each replica's verdict</summary>
                  <Replicas replicas={r.replicas} caption={`Replicas of round ${r.round}`} />
                </details>
              ) : null,
            )}
            <h2>Contributors</h2>
            {run.contributors.length === 0 ? (
              <p>No compute credited yet.</p>
            ) : (
              <table>
                <caption>Verified compute and rewards per contributor</caption>
                <thead>
                  <tr>
                    <th scope="col">Contributor</th>
                    <th scope="col">GPU-seconds</th>
                    <th scope="col">Earned</th>
                    <th scope="col">Claimed</th>
                    <th scope="col">Claimable</th>
                  </tr>
                </thead>
                <tbody>
                  {run.contributors.map((c) => (
                    <tr key={c.contributor}>
                      <td>
                        <code title={c.contributor}>{short(c.contributor)}</code>
                      </td>
                      <ShareCells share={c} />
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </QueryState>
    </>
  );
}
