import { z } from "zod";

// The console's read-only JSON API: its paths and the schema of every answer. The server parses
// what it sends with these (zod drops any field a schema does not name, so nothing private
// slips out by accident) and the browser parses what it receives with the same ones.
// Token amounts and other 256-bit numbers travel as decimal strings of base units.

const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const Bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const TxHash = Bytes32;
/** A whole number that may exceed 2^53 (token base units, voting power), as a decimal string. */
const Units = z.string().regex(/^[0-9]+$/);
/** Text a stranger wrote (metadata, URIs, reasons), cut to a length a page can show. */
const Text = (max: number) => z.string().transform((s) => (s.length > max ? `${s.slice(0, max - 1)}…` : s));

export const API_PATHS = {
  config: "/api/config",
  proposals: "/api/proposals",
  runs: "/api/runs",
  run: (runId: string) => `/api/runs/${runId}`,
  checkpoints: "/api/checkpoints",
  contributors: "/api/contributors",
  datasets: "/api/datasets",
} as const;

/** Chain ids of development chains (anvil, Hardhat, Ganache): only there may the dev wallet appear. */
export const LOCAL_CHAIN_IDS: readonly number[] = [31337, 1337];

export const ConsoleConfig = z.object({
  chain: z.object({ id: z.number().int(), rpcUrl: z.string().url(), local: z.boolean() }),
  dao: z.object({ address: Address, ensName: z.string(), tokenVoting: Address, token: Address }),
  contracts: z.object({
    datasetRegistry: Address,
    clusterRegistry: Address,
    runRegistry: Address,
    checkpointRegistry: Address,
  }),
  token: z.object({ symbol: Text(16), decimals: z.number().int() }),
  voting: z.object({
    votingMode: z.string(),
    /** Parts per million. */
    supportThreshold: z.number().int(),
    minParticipation: z.number().int(),
    minDurationSeconds: z.number().int(),
  }),
  /** The development chain's unlocked accounts (no keys: the node signs), empty on any other chain. */
  devAccounts: z.array(z.object({ address: Address, label: z.string() })),
  /** Whether the console reaches the orchestrator's Temporal for live run status. */
  liveStatus: z.boolean(),
});
export type ConsoleConfig = z.infer<typeof ConsoleConfig>;

const Readable = <T extends z.ZodRawShape>(shape: T) =>
  z.discriminatedUnion("readable", [
    z.object({ readable: z.literal(true), ...shape }),
    z.object({ readable: z.literal(false), problem: Text(300) }),
  ]);

/** A run spec as the proposal's spec URI gives it, checked against the run id it claims. */
export const SpecSummary = Readable({
  name: Text(120),
  model: Text(200),
  rounds: z.number().int(),
  innerSteps: z.number().int(),
  replicasPerRound: z.number().int(),
  minReplicas: z.number().int(),
  gpusPerReplica: z.number().int(),
  gpuHourBudget: z.number(),
  rewardPerGpuHour: Units,
  image: Text(200),
  /** sha256 of the spec's canonical JSON equals the run id the chain approves. */
  matchesRunId: z.boolean(),
});
export type SpecSummary = z.infer<typeof SpecSummary>;

/** A dataset manifest read from the dataset's URI, counted only when its shards hash to the root. */
export const ManifestSummary = Readable({
  shards: z.number().int(),
  trainShards: z.number().int(),
  validationShards: z.number().int(),
  tokens: z.number().int(),
});
export type ManifestSummary = z.infer<typeof ManifestSummary>;

/** Where a dispute of a round stands (CheckpointRegistry's DisputeState). */
export const DISPUTE_STATES = ["none", "open", "upheld", "dismissed"] as const;

export const Attestations = z.discriminatedUnion("tracked", [
  z.object({ tracked: z.literal(false) }),
  z.object({
    tracked: z.literal(true),
    count: z.number().int(),
    quorum: z.number().int(),
    verifiers: z.array(Address),
    dispute: z.enum(DISPUTE_STATES),
  }),
]);

const ClusterFacts = z.discriminatedUnion("registered", [
  z.object({
    registered: z.literal(true),
    name: Text(120),
    owner: Address,
    status: z.string(),
    gpuCapacity: z.number().int(),
    gpuProduct: Text(80),
  }),
  z.object({ registered: z.literal(false) }),
]);

const CheckpointFacts = z.discriminatedUnion("committed", [
  z.object({ committed: z.literal(true), root: Bytes32, loss: z.number(), valLoss: z.number() }),
  z.object({ committed: z.literal(false) }),
]);

/** One action of a proposal, decoded from its calldata and explained with what the chain knows. */
export const ActionView = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("approveDataset"),
    root: Bytes32,
    uri: Text(300),
    license: Text(200),
    manifest: ManifestSummary,
  }),
  z.object({ kind: z.literal("revokeDataset"), root: Bytes32 }),
  z.object({
    kind: z.literal("cluster"),
    decision: z.enum(["admit", "suspend", "remove"]),
    clusterId: Bytes32,
    /** Who an admission admits the cluster for (the contract refuses anyone but its registrant). */
    owner: Address.optional(),
    cluster: ClusterFacts,
  }),
  z.object({
    kind: z.literal("approveRun"),
    runId: Bytes32,
    datasetRoot: Bytes32,
    datasetApproved: z.boolean(),
    gpuSecondsBudget: z.number(),
    rewardPerGpuHour: Units,
    /** What approving moves from the treasury into escrow (RunRegistry.escrowFor). */
    escrow: Units,
    /** What the contract holds the operator to: rounds, and per round replicas × GPUs × deadline. */
    limits: z.object({
      rounds: z.number().int(),
      replicasPerRound: z.number().int(),
      gpusPerReplica: z.number().int(),
      roundDeadlineSeconds: z.number().int(),
    }),
    specUri: Text(300),
    spec: SpecSummary,
  }),
  z.object({ kind: z.literal("cancelRun"), runId: Bytes32 }),
  z.object({
    kind: z.literal("releaseCheckpoint"),
    runId: Bytes32,
    round: z.number().int(),
    checkpoint: CheckpointFacts,
    attestations: Attestations,
  }),
  z.object({ kind: z.literal("attestationQuorum"), quorum: z.number().int() }),
  z.object({
    kind: z.literal("resolveDispute"),
    runId: Bytes32,
    round: z.number().int(),
    upheld: z.boolean(),
  }),
  z.object({ kind: z.literal("tokenAllowance"), spender: Address, spenderName: z.string(), amount: Units }),
  z.object({
    kind: z.literal("permission"),
    change: z.enum(["grant", "revoke"]),
    where: Address,
    whereName: z.string(),
    who: Address,
    whoName: z.string(),
    permission: z.string(),
  }),
  z.object({
    kind: z.literal("unknown"),
    to: Address,
    value: Units,
    selector: z.string(),
    reason: z.string(),
  }),
]);
export type ActionView = z.infer<typeof ActionView>;

export const PROPOSAL_STATES = ["pending", "active", "succeeded", "defeated", "executed"] as const;

export const Proposal = z.object({
  id: z.number().int(),
  title: Text(200),
  summary: Text(1000),
  description: Text(10_000),
  resources: z.array(z.object({ name: Text(100), url: Text(300) })).max(20),
  creator: Address,
  state: z.enum(PROPOSAL_STATES),
  /** Unix seconds, chain time. */
  startDate: z.number(),
  endDate: z.number(),
  snapshotBlock: z.number(),
  tally: z.object({ yes: Units, no: Units, abstain: Units }),
  totalVotingPower: Units,
  /** Votes cast (yes + no + abstain) must reach this. */
  minVotingPower: Units,
  /** Parts per million of yes among yes + no that passing needs (strictly more). */
  supportThreshold: z.number().int(),
  supportReached: z.boolean(),
  participationReached: z.boolean(),
  executable: z.boolean(),
  actions: z.array(ActionView),
});
export type Proposal = z.infer<typeof Proposal>;

export const ProposalList = z.object({
  /** The chain's clock (latest block), against which dates count down. */
  chainNow: z.number(),
  proposals: z.array(Proposal),
});
export type ProposalList = z.infer<typeof ProposalList>;

const RUN_STATUSES = ["none", "approved", "completed", "cancelled", "failed"] as const;
const LIVE_STATES = ["running", "paused", "completed", "cancelled", "failed"] as const;

export const Escrow = z.object({
  funded: Units,
  credited: Units,
  paid: Units,
  refunded: Units,
  balance: Units,
});

export const RunListItem = z.object({
  runId: Bytes32,
  name: Text(120),
  status: z.enum(RUN_STATUSES),
  rounds: z.number().int(),
  committedRounds: z.number().int(),
  gpuSecondsBudget: z.number(),
  gpuSecondsRecorded: z.number(),
  escrow: Escrow,
});
export const RunList = z.object({ runs: z.array(RunListItem) });
export type RunList = z.infer<typeof RunList>;

export const ReplicaView = z.object({
  replica: z.number().int(),
  attempt: z.number().int(),
  cluster: Text(80),
  phase: z.string(),
  reason: Text(300).optional(),
  gpuSeconds: z.number().optional(),
});
export type ReplicaView = z.infer<typeof ReplicaView>;

export const RoundView = z.object({
  round: z.number().int(),
  root: Bytes32,
  loss: z.number(),
  valLoss: z.number(),
  commitTx: TxHash,
  released: z.boolean(),
  gpuSeconds: z.number(),
  /** Null when the workflow no longer holds the round's replicas (it keeps the latest rounds). */
  replicas: z.array(ReplicaView).nullable(),
});
export type RoundView = z.infer<typeof RoundView>;

export const LiveStatus = z.discriminatedUnion("available", [
  z.object({
    available: z.literal(true),
    state: z.enum(LIVE_STATES),
    reason: Text(300).optional(),
    current: z
      .object({ round: z.number().int(), attempt: z.number().int(), replicas: z.array(ReplicaView) })
      .nullable(),
  }),
  z.object({ available: z.literal(false), why: z.string() }),
]);

export const ContributorShare = z.object({
  contributor: Address,
  gpuSeconds: z.number(),
  earned: Units,
  claimed: Units,
  claimable: Units,
});

export const RunDetail = z.object({
  runId: Bytes32,
  status: z.enum(RUN_STATUSES),
  failureReason: Text(300).optional(),
  datasetRoot: Bytes32,
  gpuSecondsBudget: z.number(),
  gpuSecondsRecorded: z.number(),
  rewardPerGpuHour: Units,
  escrow: Escrow,
  spec: SpecSummary,
  live: LiveStatus,
  rounds: z.array(RoundView),
  contributors: z.array(ContributorShare),
});
export type RunDetail = z.infer<typeof RunDetail>;

export const CheckpointList = z.object({
  checkpoints: z.array(
    z.object({
      runId: Bytes32,
      runName: Text(120),
      round: z.number().int(),
      root: Bytes32,
      loss: z.number(),
      valLoss: z.number(),
      published: z.boolean(),
      attestations: Attestations,
      downloadCommand: z.string(),
      verifyCommand: z.string(),
    }),
  ),
});
export type CheckpointList = z.infer<typeof CheckpointList>;

export const ContributorList = z.object({
  clusters: z.array(
    z.object({
      clusterId: Bytes32,
      name: Text(120),
      owner: Address,
      status: z.string(),
      gpuCapacity: z.number().int(),
      gpuProduct: Text(80),
      /** The orchestrator's latest survey of the cluster; null when it has none to give. */
      health: z
        .object({ healthy: z.boolean(), freeGpus: z.number().int(), reason: Text(300).optional() })
        .nullable(),
    }),
  ),
  rewards: z.array(ContributorShare.extend({ runId: Bytes32, runName: Text(120) })),
});
export type ContributorList = z.infer<typeof ContributorList>;

export const DatasetList = z.object({
  datasets: z.array(
    z.object({
      root: Bytes32,
      uri: Text(300),
      license: Text(200),
      approved: z.boolean(),
      approvedAt: z.number(),
      manifest: ManifestSummary,
    }),
  ),
});
export type DatasetList = z.infer<typeof DatasetList>;

/** Every error answer: one sentence for a person. */
export const ApiError = z.object({ error: z.string() });
