import type { Hex } from "viem";
import { useAccount } from "wagmi";
import { API_PATHS, ContributorList } from "../../api.ts";
import { useApi } from "../api.ts";
import { QueryState } from "../components/QueryState.tsx";
import { ShareCells } from "../components/Shares.tsx";
import { explainError } from "../errors.ts";
import { short } from "../format.ts";
import { useSend } from "../transactions.ts";

function ClaimButton({
  runId,
  contributor,
  claimable,
}: {
  runId: string;
  contributor: string;
  claimable: string;
}) {
  const { address } = useAccount();
  const send = useSend();
  if (BigInt(claimable) === 0n) return <span>nothing to claim</span>;
  if (address?.toLowerCase() !== contributor.toLowerCase())
    return <span>connect as {short(contributor)} to claim</span>;
  return (
    <>
      <button
        type="button"
        disabled={send.isPending}
        onClick={() => send.mutate({ kind: "claim", runId: runId as Hex })}
      >
        {send.isPending ? "Claiming…" : "Claim"}
      </button>
      {send.error ? (
        <span role="alert" className="error">
          {" "}
          {explainError(send.error)}
        </span>
      ) : null}
    </>
  );
}

/** Contributed clusters and what the ledger credited their owners, with a claim button for the connected one. */
export function ContributorsPage() {
  const query = useApi(API_PATHS.contributors, ContributorList);
  return (
    <>
      <h1>Contributors</h1>
      <QueryState query={query}>
        {({ clusters, rewards }) => (
          <>
            <h2>Clusters</h2>
            {clusters.length === 0 ? (
              <p>No cluster is registered yet.</p>
            ) : (
              <table>
                <caption>
                  Clusters registered on-chain, with the DAO's decision and the orchestrator's last survey
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Cluster</th>
                    <th scope="col">Owner</th>
                    <th scope="col">Status</th>
                    <th scope="col">Capacity</th>
                    <th scope="col">Health</th>
                  </tr>
                </thead>
                <tbody>
                  {clusters.map((c) => (
                    <tr key={c.clusterId}>
                      <td>
                        {c.name} <code title={c.clusterId}>{short(c.clusterId)}</code>
                      </td>
                      <td>
                        <code title={c.owner}>{short(c.owner)}</code>
                      </td>
                      <td>{c.status}</td>
                      <td>
                        {c.gpuCapacity} × {c.gpuProduct}
                      </td>
                      <td>
                        {c.health === null
                          ? "no survey"
                          : c.health.healthy
                            ? `healthy, ${c.health.freeGpus} GPU(s) free`
                            : `unhealthy: ${c.health.reason ?? "no reason given"}`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <h2>Rewards</h2>
            {rewards.length === 0 ? (
              <p>No compute has been credited yet.</p>
            ) : (
              <table>
                <caption>What the compute ledger credited each contributor, per run</caption>
                <thead>
                  <tr>
                    <th scope="col">Contributor</th>
                    <th scope="col">Run</th>
                    <th scope="col">GPU-seconds</th>
                    <th scope="col">Earned</th>
                    <th scope="col">Claimed</th>
                    <th scope="col">Claimable</th>
                    <th scope="col">Claim</th>
                  </tr>
                </thead>
                <tbody>
                  {rewards.map((r) => (
                    <tr key={`${r.runId}-${r.contributor}`}>
                      <td>
                        <code title={r.contributor}>{short(r.contributor)}</code>
                      </td>
                      <td>{r.runName}</td>
                      <ShareCells share={r} />
                      <td>
                        <ClaimButton runId={r.runId} contributor={r.contributor} claimable={r.claimable} />
                      </td>
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
