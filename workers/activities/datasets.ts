import { ApplicationFailure } from "@temporalio/common";
import type { Governance } from "../../governance/chain.ts";
import { getDataset, getRun } from "../../governance/reads.ts";
import type { Hex } from "../../workflows/types.ts";

/**
 * Where a run's dataset lives, as the DAO approved it. A revoked dataset still serves the runs
 * approved on it while they are open, as DatasetRegistry.revokeDataset says ("runs already
 * approved on this dataset keep running; only new runs are refused"): the chain itself refused
 * any run proposed after the revocation. A dataset that is neither approved nor the run's
 * on-chain dataset is refused.
 */
export async function datasetUriOf(chain: Governance, root: Hex, runId: Hex): Promise<string> {
  const [dataset, run] = await Promise.all([getDataset(chain, root), getRun(chain, runId)]);
  const runsOnIt = run.status === "approved" && run.datasetRoot.toLowerCase() === root.toLowerCase();
  if (!dataset.approved && !(runsOnIt && dataset.approvedAt > 0n)) {
    throw ApplicationFailure.nonRetryable(
      `dataset ${root} is not approved by the DAO for run ${runId}; propose it with daotrain propose dataset`,
      "DatasetNotApproved",
    );
  }
  return dataset.uri;
}
