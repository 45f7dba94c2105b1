import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckpointManifest } from "../../checkpoints/index.ts";
import { runRegistryAbi } from "../../contracts/abi/index.ts";
import { DownloadExitCode } from "../../download/index.ts";
import { connect, type Governance } from "../../governance/chain.ts";
import { deployLocalDao } from "../../governance/deploy.ts";
import { increaseTime } from "../../governance/localChain.ts";
import {
  approveDatasetProposal,
  approveRunProposal,
  type ProposalDraft,
  releaseCheckpointProposal,
} from "../../governance/proposals.ts";
import { execute, propose, vote } from "../../governance/voting.ts";
import { commitRound } from "../../governance/writes.ts";
import type { Bytes32 } from "../../spec/runSpec.ts";
import { openStore, putDirectory } from "../../storage/index.ts";
import { type Anvil, startAnvil } from "../harness/anvil.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { randomRoot, writeTestCheckpoint } from "./fixtures.ts";

const cli = join(import.meta.dirname, "../../cli/main.ts");
const runId: Bytes32 = randomRoot();

let anvil: Anvil;
let server: S3Server;
let work: string;
let deploymentFile: string;
const checkpoints = new Map<number, { dir: string; manifest: CheckpointManifest; prefix: string }>();

/** Proposes, has two of three members vote yes, lets the vote end, and executes. */
async function pass(proposer: Governance, second: Governance, draft: ProposalDraft): Promise<void> {
  const { proposalId } = await propose(proposer, draft);
  await vote(proposer, proposalId, "yes");
  await vote(second, proposalId, "yes");
  await increaseTime(proposer, 2 * 3600);
  await execute(proposer, proposalId);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "daotrain-download-cli-"));
  [anvil, server] = await Promise.all([startAnvil(), startS3Server()]);
  await server.createBucket("public");
  const [deployer, a, b, c, operator] = anvil.accounts;
  deploymentFile = join(work, "deployment.json");
  const deployment = await deployLocalDao({
    rpcUrl: anvil.rpcUrl,
    deployerKey: deployer!.privateKey,
    members: [a!, b!, c!].map((m) => ({ address: m.address, votingPower: 100n * 10n ** 18n })),
    operator: operator!.address,
    deploymentFile,
  });
  const alice = await connect({ deployment, privateKey: a!.privateKey });
  const bob = await connect({ deployment, privateKey: b!.privateKey });
  const orchestrator = await connect({ deployment, privateKey: operator!.privateKey });

  const datasetRoot = randomRoot();
  await pass(
    alice,
    bob,
    approveDatasetProposal(deployment.contracts, {
      root: datasetRoot,
      uri: "file:///data",
      license: "CC0-1.0",
    }),
  );
  const budget = { gpuSecondsBudget: 3600n, rewardPerGpuHour: 10n ** 18n };
  const escrow = await alice.publicClient.readContract({
    address: deployment.contracts.runRegistry,
    abi: runRegistryAbi,
    functionName: "escrowFor",
    args: [budget.gpuSecondsBudget, budget.rewardPerGpuHour],
  });
  await pass(
    alice,
    bob,
    approveRunProposal(
      deployment,
      {
        runId,
        datasetRoot,
        ...budget,
        limits: { rounds: 3, replicasPerRound: 1, gpusPerReplica: 1, roundDeadlineSeconds: 3600 },
        specUri: "file:///spec.json",
      },
      escrow,
    ),
  );

  // The orchestrator publishes and commits rounds 1 to 3; the DAO releases rounds 1 and 3.
  // Round 3 is large enough for a download of it to be killed half-way.
  const store = openStore("s3://public/daotrain", { s3: server.storeOptions });
  for (const round of [1, 2, 3]) {
    const { dir, manifest } = await writeTestCheckpoint(work, runId, round, round === 3 ? 32 : 2);
    const prefix = `runs/${runId}/round-${round}`;
    await putDirectory(store, dir, prefix);
    checkpoints.set(round, { dir, manifest, prefix });
    await commitRound(orchestrator, {
      runId,
      round: BigInt(round),
      root: manifest.root,
      manifestUri: store.uriOf(`${prefix}/manifest.json`),
      // A stand-in: downloads read the root, not the round record.
      recordHash: manifest.root,
      metrics: { loss: 2.5, valLoss: 2.7, tokens: 1000n, steps: 10n },
      records: [],
    });
  }
  await pass(alice, bob, releaseCheckpointProposal(deployment.contracts, runId, 1n));
  await pass(alice, bob, releaseCheckpointProposal(deployment.contracts, runId, 3n));
}, 300_000);

afterAll(async () => {
  await Promise.all([anvil?.stop(), server?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** The CLI's environment: the S3 server's endpoint and keys, as a user would export them. */
function cliEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
  };
}

const downloadArgs = (...args: string[]) => [cli, "download", runId, "--deployment", deploymentFile, ...args];

async function daotrain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, downloadArgs(...args), {
      env: cliEnv(),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function stagedBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => []);
  const sizes = await Promise.all(names.map((name) => stat(join(dir, name)).then((info) => info.size)));
  return sizes.reduce((sum, size) => sum + size, 0);
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("daotrain download against a real chain and S3 server", () => {
  it("downloads the latest released round, prints JSON without a progress bar, and sha256sum -c accepts it", async () => {
    const out = join(work, "latest");
    const result = await daotrain("--out", out, "--json");
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { round: number; root: string };
    expect(printed.round).toBe(3);
    expect(printed.root).toBe(checkpoints.get(3)!.manifest.root);
    expect(result.stderr).toBe("");
    const { stdout } = await promisify(execFile)("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
    expect(stdout).not.toContain("FAILED");
  });

  it("shows progress with bytes, rate and ETA on stderr", async () => {
    const result = await daotrain("--round", "1", "--out", join(work, "with-progress"));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/\[#+\] [0-9.]+ MiB \/ [0-9.]+ MiB {2}[0-9.]+ [KMG]?i?B\/s {2}ETA /);
    expect(result.stdout).toContain(`verified run ${runId} round 1`);
  });

  it("downloads from a mirror given with --manifest, verified against the chain's root", async () => {
    const { dir, manifest } = checkpoints.get(1)!;
    const mirror = openStore(`file://${join(work, "mirror")}`);
    await putDirectory(mirror, dir, "round-1");
    const out = join(work, "from-mirror");
    const result = await daotrain(
      "--round",
      "1",
      "--manifest",
      mirror.uriOf("round-1/manifest.json"),
      "--out",
      out,
      "--json",
    );
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { root: string }).root).toBe(manifest.root);

    const other = checkpoints.get(3)!;
    await putDirectory(mirror, other.dir, "round-3");
    const wrong = await daotrain(
      "--round",
      "1",
      "--manifest",
      mirror.uriOf("round-3/manifest.json"),
      "--out",
      join(work, "wrong-mirror"),
    );
    expect(wrong.code).toBe(DownloadExitCode.manifestInvalid);
    expect(wrong.stderr).toContain("round 3, not run");
  });

  it("refuses a committed but unreleased round with exit 3, listing the released rounds", async () => {
    const out = join(work, "unreleased");
    const result = await daotrain("--round", "2", "--out", out);
    expect(result.code).toBe(DownloadExitCode.notReleased);
    expect(result.stderr).toContain("round 2 is not released by the DAO; released rounds: 1, 3");
    expect(await exists(out)).toBe(false);
  });

  it("resumes a download whose process was killed half-way, and verifies it", async () => {
    const out = join(work, "killed");
    const staging = `${out}.partial`;
    const total = checkpoints.get(3)!.manifest.shards.reduce((sum, shard) => sum + shard.bytes, 0);
    const child = spawn(
      process.execPath,
      downloadArgs("--round", "3", "--out", out, "--concurrency", "1", "--json"),
      {
        env: cliEnv(),
        stdio: "ignore",
      },
    );
    const exited = once(child, "exit");
    while (child.exitCode === null && (await stagedBytes(staging)) < total / 3) await sleep(5);
    child.kill("SIGKILL");
    await exited;
    expect(await exists(out)).toBe(false);
    const kept = await stagedBytes(staging);
    expect(kept).toBeGreaterThan(0);

    const result = await daotrain("--round", "3", "--out", out, "--json");
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { resumedBytes: number; totalBytes: number };
    expect(printed.resumedBytes).toBeGreaterThan(0);
    expect(printed.resumedBytes).toBeLessThan(printed.totalBytes);
    await promisify(execFile)("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
    expect(await exists(staging)).toBe(false);
  });

  it("refuses a shard tampered with in the store with exit 5 and writes nothing", async () => {
    const { manifest, prefix } = checkpoints.get(1)!;
    const shard = manifest.shards[0]!;
    const file = await open(join(server.dataDir, "public", "daotrain", prefix, shard.path), "r+");
    await file.write(Buffer.from([0xff, 0xff]), 0, 2, 100);
    await file.close();
    const out = join(work, "tampered");
    const result = await daotrain("--round", "1", "--out", out);
    expect(result.code).toBe(DownloadExitCode.shardCorrupt);
    expect(result.stderr).toContain(`${shard.path}: sha256`);
    expect(await exists(out)).toBe(false);
    expect((await readdir(work)).filter((name) => name.startsWith("tampered"))).toEqual([]);
  });
});
