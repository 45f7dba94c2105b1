import { approvedDatasetRoots } from "../../../governance/history.ts";
import { getDataset } from "../../../governance/reads.ts";
import type { DatasetList } from "../../api.ts";
import { manifestSummary } from "../publicFiles.ts";
import type { ConsoleSources } from "../sources.ts";

/** Every dataset the DAO approved (revoked ones too), newest first, with its shards when readable. */
export async function datasetsView(sources: ConsoleSources): Promise<DatasetList> {
  const roots = (await approvedDatasetRoots(sources.governance)).toReversed();
  const datasets = await Promise.all(
    roots.map(async (root) => {
      const dataset = await getDataset(sources.governance, root);
      return {
        root,
        uri: dataset.uri,
        license: dataset.license,
        approved: dataset.approved,
        approvedAt: Number(dataset.approvedAt),
        manifest: await manifestSummary(dataset.uri, root, sources.storeOptions),
      };
    }),
  );
  return { datasets };
}
