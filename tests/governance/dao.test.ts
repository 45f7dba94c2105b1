import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointRegistryAbi } from "../../contracts/abi/index.ts";
import { GOVERNANCE_PERMISSION_ID, OPERATOR_PERMISSION_ID } from "../../contracts/permissions.ts";
import { send } from "../../governance/chain.ts";
import { deployLocalDao } from "../../governance/deploy.ts";
import { CannotVoteError, ContractRevertError, ProposalNotExecutableError } from "../../governance/errors.ts";
import { increaseTime } from "../../governance/localChain.ts";
import { daoPermissionsAbi } from "../../governance/osxAbi.ts";
import { getProposal, listProposals } from "../../governance/proposalReads.ts";
import {
  approveDatasetProposal,
  approveRunProposal,
  clusterProposal,
  type ProposalDraft,
  releaseCheckpointProposal,
} from "../../governance/proposals.ts";
import {
  escrowFor,
  getCheckpoint,
  getCluster,
  getDataset,
  getLedger,
  getRun,
  latestReleasedRound,
  releasedRounds,
  runFailureReason,
  tokenBalance,
} from "../../governance/reads.ts";
import { execute, propose, vote } from "../../governance/voting.ts";
import { initialCursor, pollEvents } from "../../governance/watcher.ts";
import {
  claimRewards,
  commitCheckpoint,
  completeRun,
  failRun,
  recordCompute,
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
const metrics = { loss: 2.5, valLoss: 2.75, tokens: 1_000_000n, steps: 500n };

describe("DAO governance on anvil (three members, TokenVoting v1.0.0 over OSx 1.4)", () => {
  let dao: DaoFixture;

  beforeAll(async () => {
    dao = await startDaoFixture();
    const [ownerA, ownerB] = dao.others;
    for (const [i, owner] of [ownerA!, ownerB!].entries()) {
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
      ...clusters.map((c) => clusterProposal(deployment.contracts, "admit", c)),
      approveRunProposal(
        deployment,
        { runId, datasetRoot, gpuSecondsBudget, rewardPerGpuHour, specUri: "file:///runs/tiny.yaml" },
        escrow,
      ),
    ];
    await dao.pass({ title: "Set up a run", summary: "", actions: setup.flatMap((d) => d.actions) });
    await commitCheckpoint(dao.operator, {
      runId,
      round: 0n,
      root: id("root 0"),
      manifestUri: "file:///ckpt/0",
      metrics,
    });
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
    for (const c of clusters) expect((await getCluster(reader, c)).status).toBe("admitted");
    const run = await getRun(reader, runId);
    expect(run.status).toBe("approved");
    expect(run.escrow.funded).toBe(20n * TOKEN);
    expect(run.escrow.balance).toBe(20n * TOKEN);
    expect(await tokenBalance(reader, dao.deployment.contracts.runRegistry)).toBe(20n * TOKEN);
    expect(await tokenBalance(reader, dao.deployment.dao.address)).toBe(3n * MEMBER_POWER - 20n * TOKEN);
  });

  it("a release proposal that only one of three members votes for misses quorum: defeated, not executable, checkpoint unreleased", async () => {
    const [alice] = dao.members;
    const { proposalId } = await propose(
      alice,
      releaseCheckpointProposal(dao.deployment.contracts, runId, 0n),
    );
    await vote(alice, proposalId, "yes");
    await increaseTime(alice, dao.deployment.dao.voting.minDurationSeconds);
    const proposal = await getProposal(alice, proposalId);
    expect(proposal.tally).toEqual({ yes: MEMBER_POWER, no: 0n, abstain: 0n });
    expect(proposal.tally.yes).toBeLessThan(proposal.minVotingPower);
    expect(proposal.state).toBe("defeated");
    await expect(execute(alice, proposalId)).rejects.toBeInstanceOf(ProposalNotExecutableError);
    const checkpoint = await getCheckpoint(alice, runId, 0n);
    expect(checkpoint.committed && checkpoint.released).toBe(false);
  });

  it("with two of three members voting yes the release passes, executes, and the checkpoint reads as released", async () => {
    const [alice, bob] = dao.members;
    const { proposalId } = await propose(
      alice,
      releaseCheckpointProposal(dao.deployment.contracts, runId, 0n),
    );
    await vote(alice, proposalId, "yes");
    await vote(bob, proposalId, "yes");
    expect((await getProposal(alice, proposalId)).state).toBe("active");
    await expect(execute(alice, proposalId)).rejects.toBeInstanceOf(ProposalNotExecutableError);
    await increaseTime(alice, dao.deployment.dao.voting.minDurationSeconds);
    expect((await getProposal(alice, proposalId)).state).toBe("succeeded");
    await execute(bob, proposalId);
    expect((await getProposal(alice, proposalId)).state).toBe("executed");
    const checkpoint = await getCheckpoint(alice, runId, 0n);
    expect(checkpoint).toMatchObject({
      committed: true,
      released: true,
      root: id("root 0"),
      manifestUri: "file:///ckpt/0",
    });
    expect(checkpoint.committed && checkpoint.metrics).toEqual(metrics);
    expect(await releasedRounds(alice, runId)).toEqual([0n]);
    expect(await latestReleasedRound(alice, runId)).toBe(0n);
  });

  it("refuses a proposal from an account without voting power with TokenVoting's named error", async () => {
    const stranger = dao.others[5]!;
    const attempt = propose(stranger, releaseCheckpointProposal(dao.deployment.contracts, runId, 0n));
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
      releaseCheckpointProposal(dao.deployment.contracts, runId, 1n),
    );
    await expect(vote(stranger, proposalId, "yes")).rejects.toBeInstanceOf(CannotVoteError);
  });

  it("releaseCheckpoint called directly by a member or the operator reverts with DaoUnauthorized", async () => {
    for (const caller of [dao.members[0], dao.operator]) {
      const attempt = send(caller, {
        address: dao.deployment.contracts.checkpointRegistry,
        abi: checkpointRegistryAbi,
        functionName: "releaseCheckpoint",
        args: [runId, 0n],
      });
      await expect(attempt).rejects.toBeInstanceOf(ContractRevertError);
      await expect(attempt).rejects.toMatchObject({ errorName: "DaoUnauthorized" });
    }
  });

  it("a second commit for the same (run, round) reverts with AlreadyCommitted; repeating the committed root is reported as done", async () => {
    const again = { runId, round: 0n, root: id("root 0"), manifestUri: "file:///ckpt/0", metrics };
    await expect(commitCheckpoint(dao.operator, again)).resolves.toEqual({ outcome: "already-committed" });
    await expect(
      commitCheckpoint(dao.operator, { ...again, root: id("another root") }),
    ).rejects.toMatchObject({
      name: "ContractRevertError",
      errorName: "AlreadyCommitted",
    });
    const commit = commitCheckpoint(dao.members[0], { ...again, round: 7n });
    await expect(commit).rejects.toMatchObject({ errorName: "DaoUnauthorized" });
  });

  it("rewards claimed add up to the ledger and never exceed the escrow", async () => {
    const [ownerA, ownerB] = dao.others as [typeof dao.operator, typeof dao.operator];
    const { operator } = dao;
    await recordCompute(operator, runId, 0n, [
      { clusterId: clusters[0], gpuSeconds: 3600n * 3n },
      { clusterId: clusters[1], gpuSeconds: 1800n },
    ]);
    await recordCompute(operator, runId, 1n, [{ clusterId: clusters[0], gpuSeconds: 7n }]);
    const run = await getRun(operator, runId);
    const remaining = run.gpuSecondsBudget - run.gpuSecondsRecorded;
    await expect(
      recordCompute(operator, runId, 2n, [{ clusterId: clusters[1], gpuSeconds: remaining + 1n }]),
    ).rejects.toMatchObject({ errorName: "GpuBudgetExceeded" });

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
      approveRunProposal(
        dao.deployment,
        {
          runId: failing,
          datasetRoot,
          gpuSecondsBudget,
          rewardPerGpuHour,
          specUri: "file:///runs/failing.yaml",
        },
        escrow,
      ),
    );
    await recordCompute(operator, failing, 1n, [{ clusterId: clusters[0], gpuSeconds: 3600n }]);
    const credited = rewardPerGpuHour;
    await expect(failRun(dao.members[0], failing, reason)).rejects.toMatchObject({
      errorName: "DaoUnauthorized",
    });
    await expect(failRun(operator, failing, "")).rejects.toMatchObject({
      errorName: "FailureReasonRequired",
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

  it("the worker's closeRun fails a run with the workflow's reason once; a retry or another close finds it closed", async () => {
    const metrics = newMetrics();
    const activities = chainActivities({ chain: dao.operator, metrics });
    const [failing, completing] = [id("run: closed by the worker, failed"), id("run: closed by the worker")];
    const escrow = await escrowFor(dao.operator, gpuSecondsBudget, rewardPerGpuHour);
    await dao.pass({
      title: "Two runs for the worker",
      summary: "",
      actions: [failing, completing].flatMap(
        (run) =>
          approveRunProposal(
            dao.deployment,
            {
              runId: run,
              datasetRoot,
              gpuSecondsBudget,
              rewardPerGpuHour,
              specUri: "file:///runs/worker.yaml",
            },
            escrow,
          ).actions,
      ),
    });
    const reason = "round 2: fewer than 3 accepted replicas after 3 attempts";
    await expect(activities.closeRun({ runId: failing, failureReason: "" })).rejects.toMatchObject({
      type: "InvalidInputError",
      nonRetryable: true,
    });

    await expect(activities.closeRun({ runId: failing, failureReason: reason })).resolves.toEqual({
      closedNow: true,
    });
    await expect(activities.closeRun({ runId: failing, failureReason: reason })).resolves.toEqual({
      closedNow: false,
    });
    await expect(activities.closeRun({ runId: failing })).resolves.toEqual({ closedNow: false });
    expect((await getRun(dao.operator, failing)).status).toBe("failed");
    expect(await runFailureReason(dao.operator, failing)).toBe(reason);

    await expect(activities.closeRun({ runId: completing })).resolves.toEqual({ closedNow: true });
    expect((await getRun(dao.operator, completing)).status).toBe("completed");
    const sent = await metrics.chainTransactions.get();
    expect(sent.values.map((v) => [v.labels.method, v.labels.status, v.value]).sort()).toEqual([
      ["completeRun", "success", 1],
      ["failRun", "success", 1],
    ]);
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
