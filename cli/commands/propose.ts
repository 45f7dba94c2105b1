import type { Command } from "commander";
import type { Address, Hex } from "viem";
import type { Governance } from "../../governance/chain.ts";
import {
  approveDatasetProposal,
  approveRunProposal,
  CLUSTER_DECISIONS,
  type ClusterDecision,
  cancelRunProposal,
  clusterProposal,
  grantOperatorProposal,
  type ProposalDraft,
  releaseCheckpointProposal,
  revokeDatasetProposal,
  revokeOperatorProposal,
} from "../../governance/proposals.ts";
import { escrowFor, getRun } from "../../governance/reads.ts";
import { propose } from "../../governance/voting.ts";
import { runIdOf } from "../../spec/runSpec.ts";
import { readRunSpecFile } from "../../spec/specDocument.ts";
import { publishRunSpec, readRunSpec } from "../../storage/index.ts";
import { CliError, ExitCode, oneOf } from "../program.ts";
import {
  address,
  bytes32,
  type ChainOptions,
  connectFrom,
  printJson,
  tokens,
  wholeNumber,
  withChainOptions,
} from "./governanceOptions.ts";

async function submit(
  options: ChainOptions,
  build: (governance: Governance) => Promise<ProposalDraft> | ProposalDraft,
) {
  const governance = await connectFrom(options);
  const draft = await build(governance);
  const { proposalId, txHash } = await propose(governance, draft);
  if (options.json) return printJson({ proposalId, txHash, title: draft.title, actions: draft.actions });
  process.stdout.write(
    `proposal ${proposalId}: ${draft.title}\nvote with: daotrain vote ${proposalId} yes|no|abstain\n`,
  );
}

export function register(program: Command): void {
  const proposeCommand = program
    .command("propose")
    .description(
      "open a DAO vote: approve a dataset, decide on a cluster, approve and fund a run, cancel a run, release a checkpoint, (re)appoint the operator",
    );

  withChainOptions(
    proposeCommand
      .command("dataset")
      .description("approve a dataset for training runs (or with --revoke, withdraw the approval)")
      .argument("<root>", "the dataset's Merkle root", bytes32)
      .option("--uri <uri>", "where the dataset's shards and manifest live (required to approve)")
      .option("--license <license>", "the dataset's license, an SPDX id (required to approve)")
      .option("--revoke", "revoke the dataset instead"),
    { write: true },
  ).action((root: Hex, options: ChainOptions & { uri?: string; license?: string; revoke?: boolean }) => {
    if (options.revoke) return submit(options, (g) => revokeDatasetProposal(g.deployment.contracts, root));
    const { uri, license } = options;
    if (!uri || !license)
      throw new CliError("propose dataset needs --uri and --license (or --revoke)", ExitCode.usage);
    return submit(options, (g) => approveDatasetProposal(g.deployment.contracts, { root, uri, license }));
  });

  withChainOptions(
    proposeCommand
      .command("cluster")
      .description("admit, suspend or remove a registered cluster")
      .argument("<decision>", CLUSTER_DECISIONS.join("|"), oneOf(CLUSTER_DECISIONS))
      .argument("<cluster-id>", "the cluster's id (bytes32)", bytes32),
    { write: true },
  ).action((decision: ClusterDecision, clusterId: Hex, options: ChainOptions) =>
    submit(options, (g) => clusterProposal(g.deployment.contracts, decision, clusterId)),
  );

  withChainOptions(
    proposeCommand
      .command("run")
      .description(
        "publish a run spec where every worker can read it, and propose to approve it and move its GPU-hour budget × reward rate from the treasury into its escrow",
      )
      .argument("<spec>", "run spec file (YAML or JSON)")
      .option(
        "--store <uri>",
        "publish the spec's canonical JSON in this store (the run store: s3://bucket/prefix) as specs/<runId>.json (default: DAOTRAIN_STORE_URI; without one a spec up to 2 KiB goes inline as a data: URI)",
      ),
    { write: true },
  ).action(async (specFile: string, options: ChainOptions & { store?: string }) => {
    const spec = await readRunSpecFile(specFile);
    const runId = runIdOf(spec);
    const specUri = await publishRunSpec(spec, { storeUri: options.store ?? process.env.DAOTRAIN_STORE_URI });
    // What a worker will do: read it back and check it is this run.
    await readRunSpec(specUri, runId, { allowFile: true });
    const run = {
      runId,
      datasetRoot: spec.dataset,
      gpuSecondsBudget: BigInt(Math.round(spec.gpuHourBudget * 3600)),
      rewardPerGpuHour: BigInt(spec.rewardPerGpuHour),
      specUri,
    };
    await submit(options, async (g) => {
      const escrow = await escrowFor(g, run.gpuSecondsBudget, run.rewardPerGpuHour);
      if (!options.json)
        process.stderr.write(
          `run ${run.runId}: spec at ${specUri.startsWith("data:") ? "an inline data: URI" : specUri}; escrow ${tokens(escrow)} tokens from the treasury\n`,
        );
      return approveRunProposal(g.deployment, run, escrow);
    });
  });

  withChainOptions(
    proposeCommand
      .command("cancel")
      .description(
        "stop a run: its workflow ends cancelled and what no contributor was credited returns to the treasury",
      )
      .argument("<run-id>", "the run's id (spec hash)", bytes32),
    { write: true },
  ).action((runId: Hex, options: ChainOptions) =>
    submit(options, async (g) => {
      const { status } = await getRun(g, runId);
      if (status !== "approved")
        throw new CliError(
          `run ${runId} is ${status === "none" ? "unknown" : status}; only an approved run can be cancelled`,
        );
      return cancelRunProposal(g.deployment.contracts, runId);
    }),
  );

  withChainOptions(
    proposeCommand
      .command("release")
      .description("release a run's committed checkpoint for public download")
      .argument("<run-id>", "the run's id (spec hash)", bytes32)
      .argument("<round>", "the round whose checkpoint to release", wholeNumber),
    { write: true },
  ).action((runId: Hex, round: bigint, options: ChainOptions) =>
    submit(options, (g) => releaseCheckpointProposal(g.deployment.contracts, runId, round)),
  );

  withChainOptions(
    proposeCommand
      .command("operator")
      .description("grant (or with --revoke, revoke) the orchestrator's OPERATOR_PERMISSION")
      .argument("<address>", "the orchestrator's address", address)
      .option("--revoke", "revoke instead of grant"),
    { write: true },
  ).action((operator: Address, options: ChainOptions & { revoke?: boolean }) =>
    submit(options, (g) =>
      options.revoke
        ? revokeOperatorProposal(g.deployment, operator)
        : grantOperatorProposal(g.deployment, operator),
    ),
  );
}
