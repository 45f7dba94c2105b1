import { join } from "node:path";
import { type Abi, type Address, type Hex, parseEventLogs } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { checkpointRegistryAbi } from "../../contracts/abi/index.ts";
import { increaseTime } from "../../governance/localChain.ts";
import { dataUriJson } from "../../governance/metadata.ts";
import { releaseCheckpointProposal } from "../../governance/proposals.ts";
import { getAttestations, getCheckpoint, verdictOf } from "../../governance/reads.ts";
import { execute, propose, vote } from "../../governance/voting.ts";
import { attestRound } from "../../governance/writes.ts";
import { appointVerifiers, startVerifierProcess, type VerifierProcess } from "../../localstack/verifiers.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import type { AuditReport } from "../../verifier/audit.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { releaseWorkflowId } from "../../workflows/signals.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { daotrainWithEnv } from "../cli/inProcess.ts";
import { waitFor } from "../orchestration/polling.ts";
import { type OrchestrationStack, startOrchestrationStack, TWO_CLUSTERS } from "../orchestration/stack.ts";
import { workflowResult } from "../orchestration/story.ts";
import { commitAsOperator, honestRound, nudgedCheckpoint } from "./operator.ts";
import { startRpcHold } from "./rpcHold.ts";

// Verifiers on real parts: anvil with the Aragon OSx DAO, the run store, trainer processes, and two
// `daotrain verifier` processes with keys of their own. First an operator that lies (the test signs
// its commits with the operator key), then honest rounds from the worker on Temporal.

let stack: OrchestrationStack;
let verifiers: VerifierProcess[] = [];
let worker: RunningWorker | undefined;

/** anvil's accounts: the clusters' owners are the fixture's others[0] and [1]; these come after. */
const accountOf = (other: number) => stack.dao.anvil.accounts[5 + other]!;
const VERIFIER_ACCOUNTS = [2, 3];
const STRANGER = 4;

const cli = (...args: string[]) =>
  daotrainWithEnv({ DAOTRAIN_DEPLOYMENT: stack.env.DAOTRAIN_DEPLOYMENT }, ...args);

function startVerifier(i: number, rpcUrl?: string): Promise<VerifierProcess> {
  return startVerifierProcess({
    name: `verifier-${i}`,
    key: accountOf(VERIFIER_ACCOUNTS[i]!).privateKey,
    deploymentFile: stack.env.DAOTRAIN_DEPLOYMENT,
    workDir: join(stack.dir, `verifier-${i}`),
    retrySeconds: 3,
    ...(rpcUrl ? { rpcUrl } : {}),
  });
}

const verdicts = (runId: Hex, round: number) =>
  Promise.all(verifiers.map((v) => verdictOf(stack.dao.operator, runId, BigInt(round), v.address)));

/** The release as the DAO would execute it, simulated, so that the revert's name shows. */
const releaseAsTheDao = (runId: Hex, round: number) =>
  stack.dao.operator.publicClient.simulateContract({
    address: stack.dao.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi as Abi,
    functionName: "releaseCheckpoint",
    args: [runId, BigInt(round)],
    account: stack.dao.deployment.dao.address,
  });

/** The audit JSON a verifier's dispute points at (inline). */
async function disputeEvidence(runId: Hex, round: number, verifier: Address): Promise<AuditReport> {
  const logs = await stack.dao.operator.publicClient.getContractEvents({
    address: stack.dao.deployment.contracts.checkpointRegistry,
    abi: checkpointRegistryAbi,
    eventName: "DisputeOpened",
    args: { runId, round: BigInt(round), verifier },
    fromBlock: BigInt(stack.dao.deployment.startBlock),
  });
  return dataUriJson(logs[0]?.args.evidenceUri ?? "") as AuditReport;
}

beforeAll(async () => {
  stack = await startOrchestrationStack([...TWO_CLUSTERS]);
  await appointVerifiers(
    stack.dao,
    VERIFIER_ACCOUNTS.map((i) => accountOf(i).address),
    2,
  );
  verifiers = await Promise.all([startVerifier(0), startVerifier(1)]);
}, 600_000);

afterAll(async () => {
  await Promise.allSettled(verifiers.map((v) => v.process.stop()));
  await worker?.stop();
  await stack?.stop();
});

describe("an operator that commits what the round did not give", () => {
  let runId: Hex;
  const spec = () => stack.spec({ rounds: 2, replicasPerRound: 2, minReplicas: 1 });

  test("is disputed by both verifiers when its record swaps a replica's verdict, the release reverts RoundUnderDispute, and `daotrain audit` exits 10 naming the replica", async () => {
    const liar = spec();
    runId = await stack.approveRun(liar);
    const honest = await honestRound(stack, runId, liar, 1);
    const [first] = honest.record.replicas;
    expect(first?.verdict.accepted).toBe(true);
    const swapped = {
      ...honest.record,
      replicas: honest.record.replicas.map((r, i) =>
        i === 0
          ? {
              ...r,
              verdict: {
                accepted: false as const,
                reason: "norm-outlier" as const,
                message: "norm 9× the median",
              },
            }
          : r,
      ),
    };
    await commitAsOperator(stack, honest, swapped, honest.next.root);

    await waitFor(async () => (await verdicts(runId, 1)).every((v) => v === "disputed"), 240_000);
    for (const v of verifiers) {
      const evidence = await disputeEvidence(runId, 1, v.address);
      expect(evidence).toMatchObject({ outcome: "differs", finding: { subject: "replica 0 verdict" } });
    }
    expect(await getCheckpoint(stack.dao.operator, runId, 1n)).toMatchObject({ dispute: "open" });
    await expect(releaseAsTheDao(runId, 1)).rejects.toThrow(/RoundUnderDispute/);

    const audit = await cli("audit", runId, "--round", "1", "--json");
    expect(audit.code, audit.stderr).toBe(10);
    const report = JSON.parse(audit.stdout) as AuditReport;
    expect(report.finding).toMatchObject({
      subject: "replica 0 verdict",
      recorded: "rejected (norm-outlier)",
      recomputed: "accepted",
    });
    expect(audit.stderr).toMatch(/differs: replica 0 verdict/);

    // Round 2 trains from the committed (honest) root; the operator now commits a nudged checkpoint.
    const next = await honestRound(stack, runId, liar, 2, {
      uri: honest.next.manifestUri,
      root: honest.next.root,
    });
    const nudged = await nudgedCheckpoint(stack, next);
    await commitAsOperator(stack, next, { ...next.record, root: nudged.root }, nudged.root);
    await waitFor(async () => (await verdicts(runId, 2)).every((v) => v === "disputed"), 240_000);
    const second = await cli("audit", runId, "--round", "2", "--json");
    expect(second.code, second.stderr).toBe(10);
    const report2 = JSON.parse(second.stdout) as AuditReport;
    expect(report2.recomputedRoot).toBe(next.next.root);
    expect(report2.finding?.subject).toBe(`tensor ${nudged.tensor}[0]`);
    await expect(releaseAsTheDao(runId, 2)).rejects.toThrow(/RoundUnderDispute/);
  }, 900_000);

  test("an address without VERIFIER_PERMISSION can neither attest nor run a verifier", async () => {
    const stranger = stack.dao.others[STRANGER]!;
    const root = (await getCheckpoint(stack.dao.operator, runId, 1n)) as { root: Hex };
    await expect(attestRound(stranger, { runId, round: 1n, root: root.root })).rejects.toMatchObject({
      errorName: "DaoUnauthorized",
    });
    const refused = await daotrainWithEnv(
      { DAOTRAIN_DEPLOYMENT: stack.env.DAOTRAIN_DEPLOYMENT, DAOTRAIN_KEY: accountOf(STRANGER).privateKey },
      "verifier",
      "--work-dir",
      join(stack.dir, "stranger"),
      "--metrics-port",
      "0",
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/holds no VERIFIER_PERMISSION.*daotrain propose verifier/);
  });
});

describe("honest rounds from the worker", () => {
  test("both verifiers attest every round (replicas uploading int8 pseudo-gradients, which the audit decodes as the worker does), one of them killed between its audit and its attestation and restarted without a second one; `proposals` shows the count, the release passes, `download` names the attesters, and the release prunes the replica outputs", async () => {
    // Verifier 0 talks to the chain through a relay that will hold its first verdict of this run.
    const relay = await startRpcHold(stack.dao.anvil.rpcUrl);
    await verifiers[0]!.process.stop();
    verifiers[0] = await startVerifier(0, relay.url);
    worker = await startWorker(stack.env);
    const head = Number(await stack.dao.operator.publicClient.getBlockNumber());
    await stack.startWatcher(head + 1);
    const spec = stack.spec({
      rounds: 2,
      replicasPerRound: 3,
      minReplicas: 2,
      outer: { compression: "int8" },
    });
    const runId = await stack.approveRun(spec);

    // Verifier 0 dies (SIGKILL) after its audit of round 1, its attestation held unsent, and comes
    // back talking to the chain directly.
    const [doomed] = verifiers;
    relay.hold();
    await relay.held;
    expect(doomed!.process.recentOutput()).toContain(`run ${runId} round 1: redoing round 1`);
    process.kill(-doomed!.process.pid, "SIGKILL");
    await doomed!.process.exited;
    await relay.close();
    expect(await verdictOf(stack.dao.operator, runId, 1n, doomed!.address)).toBe("none");
    verifiers[0] = await startVerifier(0);

    const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId), 600_000);
    expect(status).toMatchObject({ state: "completed", committedRounds: 2 });
    for (const round of [1, 2])
      await waitFor(async () => (await verdicts(runId, round)).every((v) => v === "attested"), 300_000);

    // Each verifier gave one verdict per round, and sent no transaction beyond its verdicts.
    const events = parseEventLogs({
      abi: checkpointRegistryAbi,
      logs: await stack.dao.operator.publicClient.getLogs({
        address: stack.dao.deployment.contracts.checkpointRegistry,
        fromBlock: BigInt(stack.dao.deployment.startBlock),
      }),
    });
    for (const v of verifiers) {
      const given = events.filter(
        (e) =>
          (e.eventName === "RoundAttested" || e.eventName === "DisputeOpened") &&
          e.args.verifier === v.address,
      );
      expect(given.filter((e) => e.eventName === "RoundAttested" && e.args.runId === runId)).toHaveLength(2);
      const sent = await stack.dao.operator.publicClient.getTransactionCount({ address: v.address });
      expect(sent).toBe(given.length);
    }
    for (const round of [1, 2]) {
      const { attesters } = await getAttestations(stack.dao.operator, runId, BigInt(round));
      expect([...attesters].sort()).toEqual(verifiers.map((v) => v.address).sort());
    }

    const audit = await cli("audit", runId, "--json");
    expect(audit.code, audit.stderr).toBe(0);
    const report = JSON.parse(audit.stdout) as AuditReport;
    expect(report).toMatchObject({ outcome: "match", round: 2, recomputedRoot: status.recent.at(-1)?.root });
    const aggregated = (status.recent.at(-1)?.phaseMs.aggregate ?? 0) / 1000;
    process.stdout.write(
      `audit of round 2: ${report.seconds.toFixed(2)} s; the worker's aggregation of it: ${aggregated.toFixed(2)} s (ratio ${(report.seconds / aggregated).toFixed(2)})\n`,
    );

    // The release proposal shows the attestations live, then passes.
    const [proposer, second] = stack.dao.members;
    const { proposalId } = await propose(
      proposer,
      releaseCheckpointProposal(stack.dao.deployment.contracts, runId, 2n),
    );
    const listed = await cli("proposals");
    expect(listed.stdout).toMatch(
      new RegExp(`releases run ${runId} round 2: 2 of 2 attestation\\(s\\) needed`),
    );
    for (const member of [proposer, second]) await vote(member, proposalId, "yes");
    await increaseTime(proposer, stack.dao.deployment.dao.voting.minDurationSeconds);
    await execute(proposer, proposalId);
    await workflowResult(stack.client, releaseWorkflowId(runId, 2));

    const downloaded = await cli("download", runId, "--out", join(stack.dir, "download"));
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(downloaded.stdout).toMatch(/attested by 2 verifier\(s\): /);
    for (const v of verifiers) expect(downloaded.stdout).toContain(v.address);

    // Retention: the release of round 2 ended the replica outputs of rounds 1 and 2; records stay.
    const keys = (await stack.runStore.store.list(`runs/${runId}/`)).map((o) => o.key);
    expect(keys.filter((k) => k.includes("/clusters/"))).toEqual([]);
    expect(keys.filter((k) => k.includes("/records/"))).toHaveLength(2);
  }, 1_200_000);
});
