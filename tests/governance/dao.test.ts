import type { Abi, Address } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointRegistryAbi, clusterRegistryAbi } from "../../contracts/abi/index.ts";
import {
  CREDIT_PERMISSION_ID,
  GOVERNANCE_PERMISSION_ID,
  OPERATOR_PERMISSION_ID,
} from "../../contracts/permissions.ts";
import { send } from "../../governance/chain.ts";
import { deployLocalDao } from "../../governance/deploy.ts";
import { CannotVoteError, ContractRevertError, ProposalNotExecutableError } from "../../governance/errors.ts";
import { increaseTime } from "../../governance/localChain.ts";
import { daoPermissionsAbi } from "../../governance/osxAbi.ts";
import { getProposal, listProposals } from "../../governance/proposalReads.ts";
import {
  admitClusterProposal,
  approveDatasetProposal,
  approveRunProposal,
  attestationQuorumProposal,
  grantVerifierProposal,
  type ProposalDraft,
  type RunApproval,
  releaseCheckpointProposal,
  resolveDisputeProposal,
  revokeVerifierProposal,
} from "../../governance/proposals.ts";
import {
  escrowFor,
  getAttestations,
  getCheckpoint,
  getCluster,
  getDataset,
  getLedger,
  getRun,
  latestReleasedRound,
  releasedRounds,
  runFailureReason,
  tokenBalance,
  verdictOf,
} from "../../governance/reads.ts";
import { execute, propose, vote } from "../../governance/voting.ts";
import { initialCursor, pollEvents } from "../../governance/watcher.ts";
import {
  attestRound,
  claimRewards,
  commitRound,
  completeRun,
  disputeRound,
  failRun,
  type RoundCommit,
  registerCluster,
} from "../../governance/writes.ts";
import { chainActivities } from "../../workers/activities/chain.ts";
import { newMetrics } from "../../workers/metrics.ts";
import { type DaoFixture, id, MEMBER_POWER, startDaoFixture, TOKEN } from "./fixture.ts";

const runId = id("run: tiny transformer");
const datasetRoot = id("dataset: tiny corpus");
const clusters = [id("cluster: lab-a"), id("cluster: lab-b")] as const;
const gpuSecondsBudget = 10n * 3600n;
const rewardPerGpuHour = 2n * TOKEN;
/** Three rounds of 2 replicas × 4 GPUs, an hour each: at most 8 GPU-hours a round. */
const limits = { rounds: 3, replicasPerRound: 2, gpusPerReplica: 4, roundDeadlineSeconds: 3600 };
const metrics = { loss: 2.5, valLoss: 2.75, tokens: 1_000_000n, steps: 500n };

const runApproval = (id: `0x${string}`, specUri: string): RunApproval => ({
  runId: id,
  datasetRoot,
  gpuSecondsBudget,
  rewardPerGpuHour,
  limits,
  specUri,
});

/** Round `round` of `run`, with a root and record hash of its own and no credits unless given. */
const roundCommit = (
  run: `0x${string}`,
  round: bigint,
  records: RoundCommit["records"] = [],
): RoundCommit => ({
  runId: run,
  round,
  root: id(`root ${run} ${round}`),
  manifestUri: `file:///ckpt/${round}`,
  recordHash: id(`record ${run} ${round}`),
  metrics,
  records,
});

describe("DAO governance on anvil (three members, TokenVoting v1.0.0 over OSx 1.4)", () => {
  let dao: DaoFixture;

  /**
   * A proposal action's call made as the DAO, simulated: OSx's execute reports only
   * ActionFailed(index), this names the registry's own error.
   */
  const asTheDao = (call: { address: Address; abi: Abi; functionName: string; args: readonly unknown[] }) =>
    dao.operator.publicClient.simulateContract({ ...call, account: dao.deployment.dao.address });

  beforeAll(async () => {
    dao = await startDaoFixture();
    const owners = [dao.others[0]!, dao.others[1]!];
    for (const [i, owner] of owners.entries()) {
      await registerCluster(owner, {
        clusterId: clusters[i]!,
        gpuCapacity: 8,
        gpuProduct: "H100",
        metadata: "test",
      });
    }
    const { deployment } = dao;
    const escrow = await escrowFor(dao.members[0], gpuSecondsBudget, rewardPerGpuHour);
    const setup: ProposalDraft[] = [
      approveDatasetProposal(deployment.contracts, {
        root: datasetRoot,
        uri: "file:///data/tiny",
        license: "CC-BY-4.0",
      }),
      ...clusters.map((clusterId, i) =>
        admitClusterProposal(deployment.contracts, {
          clusterId,
          owner: owners[i]!.wallet!.account.address,
          gpuCapacity: 8,
        }),
      ),
      approveRunProposal(deployment, runApproval(runId, "file:///runs/tiny.yaml"), escrow),
    ];
    await dao.pass({ title: "Set up a run", summary: "", actions: setup.flatMap((d) => d.actions) });
    await commitRound(dao.operator, roundCommit(runId, 1n));
  });
  afterAll(async () => {
    await dao?.stop();
  });

  it("binds the registries to the DAO and appoints the operator through the DAO's first proposal", async () => {
    const { deployment, deployer } = dao;
    const [bootstrap] = await listProposals(deployer);
    expect(bootstrap?.state).toBe("executed");
    const has = (where: `0x${string}`, who: `0x${string}`, permission: `0x${string}`) =>
      deployer.publicClient.readContract({
        address: deployment.dao.address,
        abi: daoPermissionsAbi,
        functionName: "hasPermission",
        args: [where, who, permission, "0x"],
      });
    for (const registry of Object.values(deployment.contracts)) {
      expect(await has(registry, deployment.dao.address, GOVERNANCE_PERMISSION_ID)).toBe(true);
    }
    expect(
      await has(deployment.contracts.checkpointRegistry, deployment.operator, OPERATOR_PERMISSION_ID),
    ).toBe(true);
    expect(await has(deployment.contracts.runRegistry, deployment.operator, OPERATOR_PERMISSION_ID)).toBe(
      true,
    );
    expect(
      await has(
        deployment.contracts.runRegistry,
        deployment.contracts.checkpointRegistry,
        CREDIT_PERMISSION_ID,
      ),
    ).toBe(true);
    expect(await has(deployment.contracts.runRegistry, deployment.operator, CREDIT_PERMISSION_ID)).toBe(
      false,
    );
    const deployerAddress = deployer.wallet!.account.address;
    expect(await has(deployment.contracts.checkpointRegistry, deployerAddress, OPERATOR_PERMISSION_ID)).toBe(
      false,
    );
    expect(await tokenBalance(deployer, deployerAddress)).toBe(0n);
  });

  it("deploys a second, independent DAO stack on the same chain", async () => {
    const [deployer, member] = dao.anvil.accounts;
    const second = await deployLocalDao({
      rpcUrl: dao.anvil.rpcUrl,
      deployerKey: deployer!.privateKey,
      members: [{ address: member!.address, votingPower: MEMBER_POWER }],
      operator: dao.deployment.operator,
      subdomain: "second",
    });
    expect(second.osx.tokenVotingSetup).toBe(dao.deployment.osx.tokenVotingSetup);
    expect(second.dao.address).not.toBe(dao.deployment.dao.address);
    expect(second.dao.ensName).toBe("second.dao.eth");
  });

  it("executes the setup proposal: dataset approved, clusters admitted, run approved with its escrow funded from the treasury", async () => {
    const reader = dao.members[0];
    expect((await getDataset(reader, datasetRoot)).approved).toBe(true);
    for (const c of clusters) {
      expect(await getCluster(reader, c)).toMatchObject({ status: "admitted", admittedGpuCapacity: 8 });
    }
    const run = await getRun(reader, runId);
    expect(run.status).toBe("approved");
    expect(run.limits).toEqual(limits);
    expect(run.escrow.funded).toBe(20n * TOKEN);
    expect(run.escrow.balance).toBe(20n * TOKEN);
    expect(await tokenBalance(reader, dao.deployment.contracts.runRegistry)).toBe(20n * TOKEN);
    expect(await tokenBalance(reader, dao.deployment.dao.address)).toBe(3n * MEMBER_POWER - 20n * TOKEN);
  });

  it("a release proposal that only one of three members votes for misses quorum: defeated, not executable, checkpoint unreleased", async () => {
    const [alice] = dao.members;
    const { proposalId } = await propose(
      alice,
      releaseCheckpointProposal(dao.deployment.contracts, runId, 1n),
    );
    await vote(alice, proposalId, "yes");
    await increaseTime(alice, dao.deployment.dao.voting.minDurationSeconds);
    const proposal = await getProposal(alice, proposalId);
    expect(proposal.tally).toEqual({ yes: MEMBER_POWER, no: 0n, abstain: 0n });
    expect(proposal.tally.yes).toBeLessThan(proposal.minVotingPower);
    expect(proposal.state).toBe("defeated");
    await expect(execute(alice, proposalId)).rejects.toBeInstanceOf(ProposalNotExecutableError);
    const checkpoint = await getCheckpoint(alice, runId, 1n);
    expect(checkpoint.committed && checkpoint.released).toBe(false);
  });

  it("with two of three members voting yes the release passes, executes, and the checkpoint reads as released", async () => {
    const [alice, bob] = dao.members;
    const { proposalId } = await propose(
      alice,
      releaseCheckpointProposal(dao.deployment.contracts, runId, 1n),
    );
    await vote(alice, proposalId, "yes");
    await vote(bob, proposalId, "yes");
    expect((await getProposal(alice, proposalId)).state).toBe("active");
    await expect(execute(alice, proposalId)).rejects.toBeInstanceOf(ProposalNotExecutableError);
    await increaseTime(alice, dao.deployment.dao.voting.minDurationSeconds);
    expect((await getProposal(alice, proposalId)).state).toBe("succeeded");
    await execute(bob, proposalId);
    expect((await getProposal(alice, proposalId)).state).toBe("executed");
    const checkpoint = await getCheckpoint(alice, runId, 1n);
    const { root, recordHash, manifestUri } = roundCommit(runId, 1n);
    expect(checkpoint).toMatchObject({
      committed: true,
      released: true,
      dispute: "none",
      root,
      recordHash,
      manifestUri,
    });
    expect(checkpoint.committed && checkpoint.metrics).toEqual(metrics);
    expect(await releasedRounds(alice, runId)).toEqual([1n]);
    expect(await latestReleasedRound(alice, runId)).toBe(1n);
  });

  it("refuses a proposal from an account without voting power with TokenVoting's named error", async () => {
    const stranger = dao.others[5]!;
    const attempt = propose(stranger, releaseCheckpointProposal(dao.deployment.contracts, runId, 1n));
    await expect(attempt).rejects.toMatchObject({
      name: "ContractRevertError",
      errorName: "ProposalCreationForbidden",
    });
  });

  it("refuses a vote from an account that held no tokens at the snapshot", async () => {
    const [alice] = dao.members;
    const stranger = dao.others[5]!;
    const { proposalId } = await propose(
      alice,
      releaseCheckpointProposal(dao.deployment.contracts, runId, 2n),
    );
    await expect(vote(stranger, proposalId, "yes")).rejects.toBeInstanceOf(CannotVoteError);
  });

  it("releaseCheckpoint called directly by a member or the operator reverts with DaoUnauthorized", async () => {
    for (const caller of [dao.members[0], dao.operator]) {
      const attempt = send(caller, {
        address: dao.deployment.contracts.checkpointRegistry,
        abi: checkpointRegistryAbi,
        functionName: "releaseCheckpoint",
        args: [runId, 1n],
      });
      await expect(attempt).rejects.toBeInstanceOf(ContractRevertError);
      await expect(attempt).rejects.toMatchObject({ errorName: "DaoUnauthorized" });
    }
  });

  it("a second commit for the same (run, round) reverts with AlreadyCommitted; repeating the committed root and record is reported as done", async () => {
    const again = roundCommit(runId, 1n);
    await expect(commitRound(dao.operator, again)).resolves.toEqual({ outcome: "already-committed" });
    for (const conflicting of [{ root: id("another root") }, { recordHash: id("another record") }]) {
      await expect(commitRound(dao.operator, { ...again, ...conflicting })).rejects.toMatchObject({
        name: "ContractRevertError",
        errorName: "AlreadyCommitted",
      });
    }
    const commit = commitRound(dao.members[0], roundCommit(runId, 2n));
    await expect(commit).rejects.toMatchObject({ errorName: "DaoUnauthorized" });
  });

  it("the operator commits only rounds 1 to the spec's rounds, each crediting at most replicas × GPUs × deadline", async () => {
    const { operator } = dao;
    for (const round of [0n, BigInt(limits.rounds) + 1n]) {
      await expect(commitRound(operator, roundCommit(runId, round))).rejects.toMatchObject({
        errorName: "RoundOutOfRange",
      });
    }
    const perRound = BigInt(limits.replicasPerRound * limits.gpusPerReplica * limits.roundDeadlineSeconds);
    const tooMuch = roundCommit(runId, 2n, [{ clusterId: clusters[0], gpuSeconds: perRound + 1n }]);
    await expect(commitRound(operator, tooMuch)).rejects.toMatchObject({ errorName: "RoundComputeExceeded" });
    expect((await getCheckpoint(operator, runId, 2n)).committed).toBe(false);
  });

  it("rewards claimed add up to the ledger and never exceed the escrow", async () => {
    const [ownerA, ownerB] = dao.others as [typeof dao.operator, typeof dao.operator];
    const { operator } = dao;
    // Given in any order: the contract takes them by ascending cluster id, which commitRound sorts.
    await commitRound(
      operator,
      roundCommit(runId, 2n, [
        { clusterId: clusters[1], gpuSeconds: 1800n },
        { clusterId: clusters[0], gpuSeconds: 3600n * 3n },
      ]),
    );
    const run = await getRun(operator, runId);
    const remaining = run.gpuSecondsBudget - run.gpuSecondsRecorded;
    await expect(
      commitRound(operator, roundCommit(runId, 3n, [{ clusterId: clusters[1], gpuSeconds: remaining + 1n }])),
    ).rejects.toMatchObject({ errorName: "GpuBudgetExceeded" });
    await commitRound(operator, roundCommit(runId, 3n, [{ clusterId: clusters[0], gpuSeconds: 7n }]));

    const owners = [ownerA, ownerB];
    const before = await Promise.all(owners.map((o) => tokenBalance(o, o.wallet!.account.address)));
    const ledgers = await Promise.all(owners.map((o) => getLedger(o, runId, o.wallet!.account.address)));
    for (const owner of owners) await claimRewards(owner, runId);
    const after = await Promise.all(owners.map((o) => tokenBalance(o, o.wallet!.account.address)));
    await expect(claimRewards(ownerA, runId)).rejects.toMatchObject({ errorName: "NothingToClaim" });

    const paidOut = after.map((balance, i) => balance - before[i]!);
    expect(paidOut).toEqual(ledgers.map((l) => l.earned));
    expect(ledgers[0]!.earned).toBe(((3n * 3600n + 7n) * rewardPerGpuHour) / 3600n);
    const settled = await getRun(operator, runId);
    const totalEarned = ledgers.reduce((sum, l) => sum + l.earned, 0n);
    expect(settled.escrow.paid).toBe(totalEarned);
    expect(settled.escrow.credited).toBe(totalEarned);
    expect(settled.escrow.paid).toBeLessThanOrEqual(settled.escrow.funded);
    expect(settled.escrow.paid + settled.escrow.balance).toBe(settled.escrow.funded);

    const treasuryBefore = await tokenBalance(operator, dao.deployment.dao.address);
    await completeRun(operator, runId);
    const closed = await getRun(operator, runId);
    expect(closed.status).toBe("completed");
    expect(closed.escrow.paid + closed.escrow.refunded + closed.escrow.balance).toBe(closed.escrow.funded);
    expect(await tokenBalance(operator, dao.deployment.dao.address)).toBe(
      treasuryBefore + closed.escrow.refunded,
    );
  });

  it("the operator fails a run with its reason: the uncredited escrow returns to the DAO, credits stay claimable, the run reads as failed", async () => {
    const { operator } = dao;
    const ownerA = dao.others[0]!;
    const failing = id("run: short of its quorum");
    const reason = "round 1: fewer than 2 accepted replicas after 3 attempts";
    const escrow = await escrowFor(operator, gpuSecondsBudget, rewardPerGpuHour);
    await dao.pass(
      approveRunProposal(dao.deployment, runApproval(failing, "file:///runs/failing.yaml"), escrow),
    );
    await commitRound(operator, roundCommit(failing, 1n, [{ clusterId: clusters[0], gpuSeconds: 3600n }]));
    const credited = rewardPerGpuHour;
    await expect(failRun(dao.members[0], failing, reason)).rejects.toMatchObject({
      errorName: "DaoUnauthorized",
    });
    await expect(failRun(operator, failing, "")).rejects.toMatchObject({
      errorName: "ReasonRequired",
    });

    const treasuryBefore = await tokenBalance(operator, dao.deployment.dao.address);
    await failRun(operator, failing, reason);
    const failed = await getRun(operator, failing);
    expect(failed.status).toBe("failed");
    expect(failed.escrow).toMatchObject({
      funded: escrow,
      credited,
      refunded: escrow - credited,
      balance: credited,
    });
    expect(await tokenBalance(operator, dao.deployment.dao.address)).toBe(treasuryBefore + escrow - credited);
    expect(await runFailureReason(operator, failing)).toBe(reason);
    expect(await runFailureReason(operator, runId)).toBeUndefined();

    const ownerBefore = await tokenBalance(ownerA, ownerA.wallet!.account.address);
    await claimRewards(ownerA, failing);
    expect(await tokenBalance(ownerA, ownerA.wallet!.account.address)).toBe(ownerBefore + credited);
    expect((await getRun(operator, failing)).escrow.balance).toBe(0n);
    await expect(failRun(operator, failing, reason)).rejects.toMatchObject({ errorName: "RunNotApproved" });
    await expect(completeRun(operator, failing)).rejects.toMatchObject({ errorName: "RunNotApproved" });
  });

  it("the worker's closeRun closes a run as the workflow says once: failed, completed, or cancelled on request; a retry or another close finds it closed", async () => {
    const metrics = newMetrics();
    const activities = chainActivities({ chain: dao.operator, metrics });
    const [failing, completing, cancelling] = [
      id("run: closed by the worker, failed"),
      id("run: closed by the worker"),
      id("run: cancelled by the operator"),
    ];
    const escrow = await escrowFor(dao.operator, gpuSecondsBudget, rewardPerGpuHour);
    await dao.pass({
      title: "Three runs for the worker",
      summary: "",
      actions: [failing, completing, cancelling].flatMap(
        (run) =>
          approveRunProposal(dao.deployment, runApproval(run, "file:///runs/worker.yaml"), escrow).actions,
      ),
    });
    const reason = "round 2: fewer than 3 accepted replicas after 3 attempts";
    for (const as of ["failed", "cancelled"] as const) {
      await expect(
        activities.closeRun({ runId: failing, closing: { as, reason: "" } }),
      ).rejects.toMatchObject({
        type: "InvalidInputError",
        nonRetryable: true,
      });
    }

    const failed = { as: "failed", reason } as const;
    await expect(activities.closeRun({ runId: failing, closing: failed })).resolves.toEqual({
      closedNow: true,
    });
    await expect(activities.closeRun({ runId: failing, closing: failed })).resolves.toEqual({
      closedNow: false,
    });
    await expect(activities.closeRun({ runId: failing, closing: { as: "completed" } })).resolves.toEqual({
      closedNow: false,
    });
    expect((await getRun(dao.operator, failing)).status).toBe("failed");
    expect(await runFailureReason(dao.operator, failing)).toBe(reason);

    await expect(activities.closeRun({ runId: completing, closing: { as: "completed" } })).resolves.toEqual({
      closedNow: true,
    });
    expect((await getRun(dao.operator, completing)).status).toBe("completed");

    const cancelled = { as: "cancelled", reason: "operator: daotrain run cancel" } as const;
    await expect(activities.closeRun({ runId: cancelling, closing: cancelled })).resolves.toEqual({
      closedNow: true,
    });
    const run = await getRun(dao.operator, cancelling);
    expect(run.status).toBe("cancelled");
    expect(run.escrow.refunded).toBe(escrow);
    const sent = await metrics.chainTransactions.get();
    expect(sent.values.map((v) => [v.labels.method, v.labels.status, v.value]).sort()).toEqual([
      ["cancelRunAsOperator", "success", 1],
      ["completeRun", "success", 1],
      ["failRun", "success", 1],
    ]);
  });

  it("the worker's commitRound lands the root, its record hash and the credits together; a retry is success and credits nothing twice", async () => {
    const metrics = newMetrics();
    const activities = chainActivities({ chain: dao.operator, metrics });
    const committing = id("run: committed by the worker");
    const escrow = await escrowFor(dao.operator, gpuSecondsBudget, rewardPerGpuHour);
    await dao.pass(
      approveRunProposal(dao.deployment, runApproval(committing, "file:///runs/worker.yaml"), escrow),
    );
    const root = id("worker root 1");
    const request: Parameters<typeof activities.commitRound>[0] = {
      runId: committing,
      round: 1,
      checkpoint: { uri: "file:///ckpt/worker/1", root },
      metrics: { loss: 2.5, valLoss: 2.6, tokens: 1000, steps: 10 },
      credits: [{ clusterId: clusters[0], gpuSeconds: 600 }],
      record: {
        format: "daotrain-round-record/0",
        runId: committing,
        round: 1,
        parentRoot: id("worker root 0"),
        datasetRoot,
        root,
        replicas: [{ replica: 0, clusterId: clusters[0], accepted: true }],
        outer: { lr: 0.7, momentum: 0.9, nesterov: true, aggregation: "mean" },
        credits: [{ clusterId: clusters[0], gpuSeconds: 600 }],
      },
    };
    await expect(activities.commitRound(request)).resolves.toEqual({ alreadyCommitted: false });
    await expect(activities.commitRound(request)).resolves.toEqual({ alreadyCommitted: true });
    const checkpoint = await getCheckpoint(dao.operator, committing, 1n);
    expect(checkpoint.committed && checkpoint.recordHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await getRun(dao.operator, committing)).gpuSecondsRecorded).toBe(600n);
    const owner = dao.others[0]!.wallet!.account.address;
    expect((await getLedger(dao.operator, committing, owner)).earned).toBe((600n * rewardPerGpuHour) / 3600n);
  });

  it("a proposal admitting a cluster for someone other than its registrant does not execute", async () => {
    const squatted = id("cluster: squatted");
    const [squatter, rightful] = [dao.others[3]!, dao.others[4]!];
    await registerCluster(squatter, {
      clusterId: squatted,
      gpuCapacity: 64,
      gpuProduct: "H100",
      metadata: "",
    });
    const admission = admitClusterProposal(dao.deployment.contracts, {
      clusterId: squatted,
      owner: rightful.wallet!.account.address,
      gpuCapacity: 8,
    });
    await expect(dao.pass(admission)).rejects.toMatchObject({ errorName: "ActionFailed" });
    await expect(
      asTheDao({
        address: dao.deployment.contracts.clusterRegistry,
        abi: clusterRegistryAbi,
        functionName: "admitCluster",
        args: [squatted, rightful.wallet!.account.address],
      }),
    ).rejects.toThrow(/ClusterOwnerMismatch/);
    expect((await getCluster(dao.operator, squatted)).status).toBe("registered");
  });

  it("verifiers the DAO appoints gate the release: quorum of attestations, a dispute freezes the round until the DAO dismisses it", async () => {
    const { operator, deployment } = dao;
    const [vera, victor, stranger] = [dao.others[6]!, dao.others[7]!, dao.others[8]!];
    const verified = id("run: verified");
    const escrow = await escrowFor(operator, gpuSecondsBudget, rewardPerGpuHour);
    await dao.pass({
      title: "Two verifiers, a quorum of one, and a run",
      summary: "",
      actions: [
        grantVerifierProposal(deployment, vera.wallet!.account.address),
        grantVerifierProposal(deployment, victor.wallet!.account.address),
        attestationQuorumProposal(deployment.contracts, 1),
        approveRunProposal(deployment, runApproval(verified, "file:///runs/verified.yaml"), escrow),
      ].flatMap((d) => d.actions),
    });
    const commit = roundCommit(verified, 1n);
    await commitRound(operator, commit);
    const target = { runId: verified, round: 1n, root: commit.root };
    const release = releaseCheckpointProposal(deployment.contracts, verified, 1n);
    const releaseAsTheDao = () =>
      asTheDao({
        address: deployment.contracts.checkpointRegistry,
        abi: checkpointRegistryAbi,
        functionName: "releaseCheckpoint",
        args: [verified, 1n],
      });

    await expect(dao.pass(release)).rejects.toMatchObject({ errorName: "ActionFailed" });
    await expect(releaseAsTheDao()).rejects.toThrow(/AttestationQuorumNotMet/);
    await expect(attestRound(stranger, target)).rejects.toMatchObject({ errorName: "DaoUnauthorized" });
    await expect(attestRound(vera, { ...target, root: id("wrong") })).rejects.toMatchObject({
      errorName: "RootMismatch",
    });
    await attestRound(vera, target);
    await expect(attestRound(vera, target)).rejects.toMatchObject({ errorName: "AlreadyVerified" });
    expect(await verdictOf(operator, verified, 1n, vera.wallet!.account.address)).toBe("attested");
    await disputeRound(victor, { ...target, evidenceUri: "file:///audits/verified-1.json" });
    expect(await getAttestations(operator, verified, 1n)).toEqual({
      count: 1n,
      attesters: [vera.wallet!.account.address],
      quorum: 1,
    });
    expect(await getCheckpoint(operator, verified, 1n)).toMatchObject({ dispute: "open" });
    await expect(releaseAsTheDao()).rejects.toThrow(/RoundUnderDispute/);

    await dao.pass(
      resolveDisputeProposal(deployment.contracts, { runId: verified, round: 1n, upheld: false }),
    );
    await dao.pass(release);
    expect(await getCheckpoint(operator, verified, 1n)).toMatchObject({
      released: true,
      dispute: "dismissed",
    });

    // Back to no verifiers, as the other tests expect.
    await dao.pass({
      title: "Dismiss the verifiers",
      summary: "",
      actions: [
        revokeVerifierProposal(deployment, vera.wallet!.account.address),
        revokeVerifierProposal(deployment, victor.wallet!.account.address),
        attestationQuorumProposal(deployment.contracts, 0),
      ].flatMap((d) => d.actions),
    });
    expect((await getAttestations(operator, verified, 1n)).count).toBe(0n);
  });

  it("the event watcher delivers every event once and in order, whatever its page size", async () => {
    const reader = dao.members[0];
    const drain = async (maxBlocks: number) => {
      let cursor = initialCursor(dao.deployment);
      const seen: string[] = [];
      for (;;) {
        const page = await pollEvents(reader, { cursor, maxBlocks });
        seen.push(...page.events.map((e) => `${e.blockNumber}:${e.logIndex}:${e.eventName}`));
        cursor = page.cursor;
        if (page.caughtUp) return seen;
      }
    };
    const whole = await drain(100_000);
    expect(await drain(3)).toEqual(whole);
    expect(new Set(whole).size).toBe(whole.length);
    const names = whole.map((e) => e.split(":")[2]);
    for (const name of [
      "RunApproved",
      "CheckpointCommitted",
      "CheckpointReleased",
      "ComputeRecorded",
      "RunFailed",
      "ProposalExecuted",
    ]) {
      expect(names).toContain(name);
    }
    expect(names.indexOf("CheckpointCommitted")).toBeLessThan(names.indexOf("CheckpointReleased"));
  });
});
