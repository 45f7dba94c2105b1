import { API_PATHS, DatasetList } from "../../api.ts";
import { useApi } from "../api.ts";
import { QueryState } from "../components/QueryState.tsx";
import { short, utc } from "../format.ts";

/** Datasets the DAO approved: root, license, shards, whether still approved. */
export function DatasetsPage() {
  const query = useApi(API_PATHS.datasets, DatasetList);
  return (
    <>
      <h1>Datasets</h1>
      <QueryState query={query}>
        {({ datasets }) =>
          datasets.length === 0 ? (
            <p>No dataset is approved yet.</p>
          ) : (
            <table>
              <caption>Datasets the DAO approved, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Root</th>
                  <th scope="col">License</th>
                  <th scope="col">Shards</th>
                  <th scope="col">Status</th>
                  <th scope="col">Location</th>
                </tr>
              </thead>
              <tbody>
                {datasets.map((d) => (
                  <tr key={d.root}>
                    <td>
                      <code title={d.root}>{short(d.root)}</code>
                    </td>
                    <td>{d.license}</td>
                    <td>
                      {d.manifest.readable
                        ? `${d.manifest.shards} (${d.manifest.trainShards} train, ${d.manifest.validationShards} held out), ${d.manifest.tokens.toLocaleString("en-US")} tokens`
                        : d.manifest.problem}
                    </td>
                    <td>{d.approved ? `approved ${utc(d.approvedAt)}` : "revoked"}</td>
                    <td>
                      <code>{d.uri}</code>
                    </td>
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
