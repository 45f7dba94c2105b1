import type { Command } from "commander";
import type { Address, Hex } from "viem";
import type { Governance } from "../../governance/chain.ts";
import type { Deployment } from "../../governance/deployment.ts";
import {
  admitClusterProposal,
  approveDatasetProposal,
  approveRunProposal,
  attestationQuorumProposal,
  CLUSTER_SANCTIONS,
  cancelRunProposal,
  clusterSanctionProposal,
  grantOperatorProposal,
  grantVerifierProposal,
  type ProposalDraft,
  releaseCheckpointProposal,
  resolveDisputeProposal,
  revokeDatasetProposal,
  revokeOperatorProposal,
  revokeVerifierProposal,
  runApprovalOf,
} from "../../governance/proposals.ts";
import { escrowFor, getAttestations, getCluster, getRun } from "../../governance/reads.ts";
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
      "open a DAO vote: approve a dataset, decide on a cluster, approve and fund a run, cancel a run, release a checkpoint, (re)appoint the operator or a verifier, set the attestation quorum, resolve a dispute",
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

  const clusterDecisions = ["admit", ...CLUSTER_SANCTIONS] as const;
  withChainOptions(
    proposeCommand
      .command("cluster")
      .description(
        "admit a registered cluster for its owner (again, to approve a raised capacity), suspend or remove it",
      )
      .argument("<decision>", clusterDecisions.join("|"), oneOf(clusterDecisions))
      .argument("<cluster-id>", "the cluster's id (bytes32)", bytes32)
      .option("--owner <address>", "admit only if this address registered the cluster", address),
    { write: true },
  ).action(
    (
      decision: (typeof clusterDecisions)[number],
      clusterId: Hex,
      options: ChainOptions & { owner?: Address },
    ) =>
      submit(options, async (g) => {
        if (decision !== "admit") return clusterSanctionProposal(g.deployment.contracts, decision, clusterId);
        return admitClusterProposal(g.deployment.contracts, await admissionOf(g, clusterId, options.owner));
      }),
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
    const specUri = await publishRunSpec(spec, { storeUri: options.store ?? process.env.DAOTRAIN_STORE_URI });
    // What a worker will do: read it back and check it is this run.
    await readRunSpec(specUri, runIdOf(spec), { allowFile: true });
    const run = runApprovalOf(spec, specUri);
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
    submit(options, async (g) =>
      releaseCheckpointProposal(g.deployment.contracts, runId, round, await getAttestations(g, runId, round)),
    ),
  );

  permissionVerb(proposeCommand, {
    name: "operator",
    description: "grant (or with --revoke, revoke) the orchestrator's OPERATOR_PERMISSION",
    who: "the orchestrator's address",
    grant: grantOperatorProposal,
    revoke: revokeOperatorProposal,
  });
  permissionVerb(proposeCommand, {
    name: "verifier",
    description:
      "appoint a verifier, who attests or disputes committed rounds (or with --revoke, dismiss one: its attestations of unreleased rounds stop counting)",
    who: "the verifier's address",
    grant: grantVerifierProposal,
    revoke: revokeVerifierProposal,
  });

  withChainOptions(
    proposeCommand
      .command("attestation-quorum")
      .description("set how many current verifiers must attest a round before it can be released")
      .argument("<count>", "attestations a release needs (0: none)", wholeNumber),
    { write: true },
  ).action((count: bigint, options: ChainOptions) => {
    if (count > 2n ** 32n - 1n)
      throw new CliError("attestation-quorum: <count> must fit in 32 bits", ExitCode.usage);
    return submit(options, (g) => attestationQuorumProposal(g.deployment.contracts, Number(count)));
  });

  const disputeDecisions = ["uphold", "dismiss"] as const;
  withChainOptions(
    proposeCommand
      .command("dispute")
      .description(
        "resolve an open dispute on a round: uphold it (the round is never released) or dismiss it",
      )
      .argument("<run-id>", "the run's id (spec hash)", bytes32)
      .argument("<round>", "the disputed round", wholeNumber)
      .argument("<decision>", disputeDecisions.join("|"), oneOf(disputeDecisions)),
    { write: true },
  ).action((runId: Hex, round: bigint, decision: (typeof disputeDecisions)[number], options: ChainOptions) =>
    submit(options, (g) =>
      resolveDisputeProposal(g.deployment.contracts, { runId, round, upheld: decision === "uphold" }),
    ),
  );
}

/** `propose <name> <address> [--revoke]`: a permission the DAO grants to, or revokes from, an address. */
function permissionVerb(
  proposeCommand: Command,
  verb: {
    name: string;
    description: string;
    who: string;
    grant: (deployment: Deployment, who: Address) => ProposalDraft;
    revoke: (deployment: Deployment, who: Address) => ProposalDraft;
  },
): void {
  withChainOptions(
    proposeCommand
      .command(verb.name)
      .description(verb.description)
      .argument("<address>", verb.who, address)
      .option("--revoke", "revoke instead of grant"),
    { write: true },
  ).action((who: Address, options: ChainOptions & { revoke?: boolean }) =>
    submit(options, (g) => (options.revoke ? verb.revoke : verb.grant)(g.deployment, who)),
  );
}

/**
 * Who the DAO admits and with how many GPUs: the registered owner and its reported capacity, read
 * now for the voters to see. `expectedOwner` refuses an id someone else registered.
 */
async function admissionOf(governance: Governance, clusterId: Hex, expectedOwner: Address | undefined) {
  const cluster = await getCluster(governance, clusterId);
  if (cluster.status === "none")
    throw new CliError(
      `cluster ${clusterId} is not registered; its owner registers it first (daotrain cluster register)`,
    );
  if (expectedOwner !== undefined && cluster.owner !== expectedOwner)
    throw new CliError(
      `cluster ${clusterId} was registered by ${cluster.owner}, not ${expectedOwner}; do not admit it`,
    );
  return { clusterId, owner: cluster.owner, gpuCapacity: cluster.gpuCapacity };
}
