import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { QuotaExceededError, type RoundJobSpecInput, type RoundStatus } from "../cluster.ts";
import { LocalCluster } from "./localCluster.ts";

const hex = (digit: string) => `0x${digit.repeat(64)}`;
let workDir: string;
let outDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "daotrain-local-"));
  outDir = await mkdtemp(join(tmpdir(), "daotrain-local-out-"));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
  await rm(outDir, { recursive: true, force: true });
});

function spec(round: number, command: string[], replicas = [0, 1]): RoundJobSpecInput {
  return {
    runId: hex("a"),
    round,
    image: "unused-locally",
    command,
    replicas: replicas.map((replica) => ({
      replica,
      shards: [replica * 2, replica * 2 + 1],
      outputUri: `file://${outDir}/round-${round}/replica-${replica}`,
    })),
    totalReplicas: 4,
    gpusPerReplica: 1,
    initUri: "file:///init",
    initRoot: hex("b"),
    datasetUri: "file:///data",
    datasetRoot: hex("c"),
    innerSteps: 5,
    seed: 7,
  };
}

async function finalStatus(
  generator: AsyncGenerator<RoundStatus, RoundStatus | undefined>,
): Promise<RoundStatus[]> {
  const seen: RoundStatus[] = [];
  for await (const status of generator) seen.push(status);
  return seen;
}

test("each replica runs as a local process with its own trainer-contract env and reports success", async () => {
  const cluster = new LocalCluster({ workDir, gpus: 4 });
  const writeEnv = [
    "node",
    "-e",
    "const e=process.env; console.log(JSON.stringify({r:e.DAOTRAIN_REPLICA,n:e.DAOTRAIN_REPLICAS,s:e.DAOTRAIN_SHARDS,o:e.DAOTRAIN_OUTPUT_URI,g:e.CUDA_VISIBLE_DEVICES}))",
  ];
  const ref = await cluster.launchRound(spec(1, writeEnv));
  const seen = await finalStatus(cluster.watchRound(ref));
  expect(seen.at(-1)?.replicas).toMatchObject([
    { replica: 0, state: "succeeded" },
    { replica: 1, state: "succeeded" },
  ]);
  for (const replica of seen.at(-1)?.replicas ?? []) {
    if (replica.state !== "succeeded" || !replica.ran) throw new Error("no run times recorded");
    expect(replica.ran.finishedAtMs).toBeGreaterThanOrEqual(replica.ran.startedAtMs);
  }
  const env1 = JSON.parse(await cluster.logs(ref, 1));
  expect(env1).toEqual({ r: "1", n: "4", s: "2,3", o: `file://${outDir}/round-1/replica-1`, g: "1" });
  expect(JSON.parse(await cluster.logs(ref, 0, { tailLines: 1 })).s).toBe("0,1");
  await cluster.cleanupRound(ref);
});

test("a replica that exits non-zero is reported failed with its exit code; launching again does not start a second process", async () => {
  const cluster = new LocalCluster({ workDir, gpus: 4 });
  const command = [
    "sh",
    "-c",
    `echo started >> ${outDir}/starts-$DAOTRAIN_REPLICA; exit $((3 * DAOTRAIN_REPLICA))`,
  ];
  const ref = await cluster.launchRound(spec(2, command));
  expect(await cluster.launchRound(spec(2, command))).toEqual(ref);
  const seen = await finalStatus(cluster.watchRound(ref));
  expect(seen.at(-1)?.replicas).toMatchObject([
    { replica: 0, state: "succeeded" },
    { replica: 1, state: "failed", reason: "trainer exited with code 3", exitCode: 3 },
  ]);
  expect(await readFile(join(outDir, "starts-1"), "utf8")).toBe("started\n");
  await cluster.cleanupRound(ref);
});

test("exit codes are recorded with the shell's builtins alone, as in the worker's image (a sh, no coreutils)", async () => {
  const emptyPath = await mkdtemp(join(tmpdir(), "daotrain-local-path-"));
  const cluster = new LocalCluster({ workDir, gpus: 4, env: { PATH: emptyPath } });
  const command = [process.execPath, "-e", "process.exit(5 * Number(process.env.DAOTRAIN_REPLICA))"];
  const ref = await cluster.launchRound(spec(8, command));
  const seen = await finalStatus(cluster.watchRound(ref));
  expect(seen.at(-1)?.replicas).toMatchObject([
    { replica: 0, state: "succeeded" },
    { replica: 1, state: "failed", reason: "trainer exited with code 5", exitCode: 5 },
  ]);
  await cluster.cleanupRound(ref);
  await rm(emptyPath, { recursive: true, force: true });
});

test("cancel stops running replicas and removes the round; a round beyond the machine's GPUs is refused", async () => {
  const cluster = new LocalCluster({ workDir, gpus: 2 });
  const ref = await cluster.launchRound(spec(3, ["sleep", "60"]));
  const running = await cluster.watchRound(ref).next();
  expect(running.value?.replicas.map((r) => r.state)).toEqual(["running", "running"]);
  expect((await cluster.capacity()).freeGpus).toBe(0);
  await expect(cluster.launchRound(spec(4, ["true"], [2]))).rejects.toBeInstanceOf(QuotaExceededError);
  await cluster.cancelRound(ref);
  await expect(cluster.roundStatus(ref)).rejects.toThrow(/launch it first/);
  expect((await cluster.capacity()).freeGpus).toBe(2);
});

test("a launch retried after the launcher died half-way starts only the replicas that never started", async () => {
  const cluster = new LocalCluster({ workDir, gpus: 4 });
  const command = ["sh", "-c", `echo started >> ${outDir}/restart-$DAOTRAIN_REPLICA`];
  const ref = await cluster.launchRound(spec(5, command));
  await finalStatus(cluster.watchRound(ref));
  // As if the launcher had died after starting replica 0 only: replica 1 left no trace.
  const dir = join(workDir, ref.name);
  for (const kind of ["claimed", "pid", "exit", "log"])
    await rm(join(dir, `replica-1.${kind}`), { force: true });
  await rm(join(outDir, "restart-1"), { force: true });

  expect(await cluster.launchRound(spec(5, command))).toEqual(ref);
  const seen = await finalStatus(cluster.watchRound(ref));
  expect(seen.at(-1)?.replicas.map((r) => r.state)).toEqual(["succeeded", "succeeded"]);
  expect(await readFile(join(outDir, "restart-0"), "utf8")).toBe("started\n");
  expect(await readFile(join(outDir, "restart-1"), "utf8")).toBe("started\n");
  await cluster.cleanupRound(ref);
});

test("the run store's env reaches each replica's process and is written to no file of the round", async () => {
  const cluster = new LocalCluster({ workDir, gpus: 4 });
  const storeEnv = { AWS_ACCESS_KEY_ID: "AKIALOCALTEST0001", AWS_SECRET_ACCESS_KEY: "local-secret-value-42" };
  // The trainer writes what it got to its output (outside the round's directory), not to stdout.
  const write =
    "require('node:fs').writeFileSync(new URL(process.env.DAOTRAIN_OUTPUT_URI), process.env.AWS_ACCESS_KEY_ID + ' ' + process.env.AWS_SECRET_ACCESS_KEY)";
  await mkdir(join(outDir, "round-6"), { recursive: true });
  const ref = await cluster.launchRound({ ...spec(6, ["node", "-e", write]), storeEnv });
  const seen = await finalStatus(cluster.watchRound(ref));
  expect(seen.at(-1)?.replicas.map((r) => r.state)).toEqual(["succeeded", "succeeded"]);
  for (const replica of [0, 1])
    expect(await readFile(join(outDir, "round-6", `replica-${replica}`), "utf8")).toBe(
      "AKIALOCALTEST0001 local-secret-value-42",
    );
  const dir = join(workDir, ref.name);
  const files = await readdir(dir);
  expect(files).toContain("round.json");
  for (const file of files) {
    const text = await readFile(join(dir, file), "utf8");
    for (const value of Object.values(storeEnv)) expect(text, file).not.toContain(value);
  }
  await cluster.cleanupRound(ref);
});
