import { ApplicationFailure } from "@temporalio/common";
import type { Governance } from "../../governance/chain.ts";
import { getDataset } from "../../governance/reads.ts";
import type { Hex } from "../../workflows/types.ts";

/** Where an approved dataset lives, as the DAO approved it; refuses a dataset it did not approve. */
export async function datasetUriOf(chain: Governance, root: Hex): Promise<string> {
  const dataset = await getDataset(chain, root);
  if (!dataset.approved) {
    throw ApplicationFailure.nonRetryable(
      `dataset ${root} is not approved by the DAO; propose it with daotrain propose dataset`,
      "DatasetNotApproved",
    );
  }
  return dataset.uri;
}
