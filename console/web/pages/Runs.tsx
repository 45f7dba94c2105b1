import { Link } from "wouter";
import { API_PATHS, RunList } from "../../api.ts";
import { useApi } from "../api.ts";
import { QueryState } from "../components/QueryState.tsx";
import { useConsoleConfig } from "../context.ts";
import { gpuHours, short, tokens } from "../format.ts";

/** Every run the DAO funded: state, rounds, compute and escrow. */
export function RunsPage() {
  const { token } = useConsoleConfig();
  const query = useApi(API_PATHS.runs, RunList);
  return (
    <>
      <h1>Runs</h1>
      <QueryState query={query}>
        {({ runs }) =>
          runs.length === 0 ? (
            <p>No run is approved yet: a run appears here once the DAO executes its proposal.</p>
          ) : (
            <table>
              <caption>Runs the DAO approved, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">State</th>
                  <th scope="col">Rounds committed</th>
                  <th scope="col">Verified compute</th>
                  <th scope="col">Escrow funded</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((run) => (
                  <tr key={run.runId}>
                    <td>
                      <Link href={`/runs/${run.runId}`}>{run.name}</Link>{" "}
                      <code title={run.runId}>{short(run.runId)}</code>
                    </td>
                    <td>{run.status}</td>
                    <td>
                      {run.committedRounds} of {run.rounds}
                    </td>
                    <td>
                      {gpuHours(run.gpuSecondsRecorded)} of {gpuHours(run.gpuSecondsBudget)}
                    </td>
                    <td>{tokens(run.escrow.funded, token.symbol, token.decimals)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryState>
    </>
  );
}
