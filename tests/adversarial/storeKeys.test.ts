import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
} from "@aws-sdk/client-s3";
import { CoreV1Api, makeInformer, type V1Secret } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { readClusters } from "../../workers/clusterDirectory.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import type { Hex } from "../../workflows/types.ts";
import { daotrain } from "../cli/inProcess.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { type ContributedCluster, contributedCluster, runToEnd } from "./harness.ts";

// Store keys (issue 12.6), on a real S3 server with real per-user policies (versitygw's IAM
// service): `daotrain store grant` issues each contributor keys of its own. "alpha" runs trainers
// on a local executor, "kbeta" on its Kubernetes cluster, whose Secrets the test (its admin)
// watches to see every key that reached its pods. Then kbeta, holding what its pods held, tries
// the bucket.

let s3: S3Server;
let stack: OrchestrationStack;
let kbeta: ContributedCluster;
let worker: RunningWorker;
let clustersFile: string;
/** Every AWS_ACCESS_KEY_ID that reached a Secret in kbeta's namespace. */
const keysSeenByKbeta = new Set<string>();
let stopWatchingSecrets: () => Promise<void>;

/** Runs `daotrain store …` as the operator would: the worker's env, IAM admin keys in AWS_*. */
async function store(...args: string[]) {
  const env = {
    DAOTRAIN_STORE_URI: "s3://runs/store",
    DAOTRAIN_CLUSTERS: clustersFile,
    AWS_ENDPOINT_URL_IAM: s3.iamEndpoint ?? "",
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await daotrain("store", ...args);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

beforeAll(async () => {
  s3 = await startS3Server({ iam: true });
  stack = await startOrchestrationStack(
    [
      { name: "alpha", gpus: 2, ownerIndex: 0 },
      { name: "kbeta", gpus: 2, ownerIndex: 1 },
    ],
    { bucketsOn: s3 },
  );
  clustersFile = join(stack.dir, "clusters.yaml");
  kbeta = await contributedCluster(stack, "kbeta", { gpus: 2 });
  await stack.writeClusters([stack.localCluster("alpha"), kbeta.entry]);
  for (const cluster of ["alpha", "kbeta"]) {
    const granted = await store("grant", cluster, "--dataset", "s3://datasets/fables", "--json");
    expect(granted.code, granted.stderr).toBe(0);
  }
  const secrets = makeInformer<V1Secret>(
    kbeta.cluster.kubeConfig,
    "/api/v1/namespaces/daotrain/secrets",
    () => kbeta.cluster.kubeConfig.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: "daotrain" }),
  );
  const note = (secret: V1Secret) => {
    const key = secret.data?.AWS_ACCESS_KEY_ID;
    if (key) keysSeenByKbeta.add(Buffer.from(key, "base64").toString());
  };
  secrets.on("add", note);
  secrets.on("update", note);
  await secrets.start();
  stopWatchingSecrets = () => secrets.stop();
  worker = await startWorker(stack.env);
});

afterAll(async () => {
  await worker?.stop();
  await stopWatchingSecrets?.();
  await kbeta?.stop();
  await stack?.stop();
  await s3?.stop();
});

/** The keys the clusters file gives a cluster: what its trainers, and so its owner, hold. */
async function keysOf(cluster: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const storeEnv = (await readClusters(clustersFile)).find((c) => c.name === cluster)?.storeEnv;
  if (!storeEnv?.AWS_ACCESS_KEY_ID || !storeEnv.AWS_SECRET_ACCESS_KEY)
    throw new Error(`${cluster} has no keys`);
  return { accessKeyId: storeEnv.AWS_ACCESS_KEY_ID, secretAccessKey: storeEnv.AWS_SECRET_ACCESS_KEY };
}

function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    maxAttempts: 1,
    credentials,
  });
}

/** "allowed", or the S3 error code the server answered with. */
async function attempt(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "allowed";
  } catch (error) {
    return (error as S3ServiceException).name;
  }
}

let runId: Hex | undefined;

describe("each contributor's own run-store keys", () => {
  test("the round trains on both clusters with each contributor's keys, and kbeta's pods only ever got kbeta's key, never the worker's", async () => {
    const spec = stack.spec({ rounds: 1, replicasPerRound: 4, minReplicas: 4 });
    const ended = await runToEnd(stack, spec);
    runId = ended.runId;
    expect(ended.status).toMatchObject({ state: "completed", committedRounds: 1 });
    const replicas = ended.status.recent[0]?.replicas ?? [];
    expect(replicas.map((r) => [r.cluster, r.phase]).sort()).toEqual([
      ["alpha", "accepted"],
      ["alpha", "accepted"],
      ["kbeta", "accepted"],
      ["kbeta", "accepted"],
    ]);
    expect([...keysSeenByKbeta]).toEqual([(await keysOf("kbeta")).accessKeyId]);
    expect(keysSeenByKbeta.has(s3.credentials.accessKeyId)).toBe(false);
  });

  test("with those keys a contributor reads no other contributor's output, writes nothing but its own outputs (not another's, not a global or initial checkpoint, not the public store), and lists nothing", async () => {
    if (!runId) throw new Error("the run above did not finish");
    const root = clientWith(s3.credentials);
    await root.send(new PutObjectCommand({ Bucket: "runs", Key: "store/probe", Body: "x" }));
    const keys =
      (
        await root.send(new ListObjectsV2Command({ Bucket: "runs", Prefix: `store/runs/${runId}/` }))
      ).Contents?.map((o) => o.Key ?? "") ?? [];
    const alphaOutput = keys.find((k) => k.includes("/clusters/alpha/") && k.endsWith("/manifest.json"));
    if (!alphaOutput) throw new Error(`no output of alpha among ${keys.join(", ")}`);
    await s3.createBucket("public");

    const thief = clientWith(await keysOf("kbeta"));
    const get = (Bucket: string, Key: string) => attempt(thief.send(new GetObjectCommand({ Bucket, Key })));
    const put = (Bucket: string, Key: string) =>
      attempt(thief.send(new PutObjectCommand({ Bucket, Key, Body: "forged" })));
    const run = `store/runs/${runId}`;
    expect({
      "read alpha's output": await get("runs", alphaOutput),
      "overwrite alpha's output": await put("runs", alphaOutput),
      "write the next global checkpoint": await put("runs", `${run}/rounds/2/global/manifest.json`),
      "write under a global checkpoint through a wildcard": await put(
        "runs",
        `${run}/rounds/1/global/clusters/kbeta/x`,
      ),
      "write the initial checkpoint": await put("runs", `${run}/init/manifest.json`),
      "write the public store": await put("public", `${runId}/1/manifest.json`),
      "list the run store": await attempt(
        thief.send(new ListObjectsV2Command({ Bucket: "runs", Prefix: "store/" })),
      ),
    }).toEqual({
      "read alpha's output": "AccessDenied",
      "overwrite alpha's output": "AccessDenied",
      "write the next global checkpoint": "AccessDenied",
      "write under a global checkpoint through a wildcard": "AccessDenied",
      "write the initial checkpoint": "AccessDenied",
      "write the public store": "AccessDenied",
      "list the run store": "AccessDenied",
    });
    // What its trainers need still works: the round's inputs, and its own outputs.
    expect({
      "read the global checkpoint": await get("runs", `${run}/rounds/1/global/manifest.json`),
      "read the dataset": await get("datasets", "fables/manifest.json"),
      "write its own output": await put("runs", `${run}/rounds/2/clusters/kbeta/replicas/0-a1/probe`),
    }).toEqual({
      "read the global checkpoint": "allowed",
      "read the dataset": "allowed",
      "write its own output": "allowed",
    });
  });

  test("granted to a cluster that evaluates, the keys also read the round's outputs, still never another evaluator's scores, and write its own scores", async () => {
    if (!runId) throw new Error("the run above did not finish");
    const file = parseYaml(await readFile(clustersFile, "utf8")) as {
      clusters: { name: string; kubernetes?: Record<string, unknown> }[];
    };
    const entry = file.clusters.find((c) => c.name === "kbeta")!;
    entry.kubernetes = { ...entry.kubernetes, evaluates: true };
    await writeFile(clustersFile, toYaml(file));
    const granted = await store("grant", "kbeta", "--dataset", "s3://datasets/fables", "--json");
    expect(granted.code, granted.stderr).toBe(0);
    const root = clientWith(s3.credentials);
    const keys =
      (
        await root.send(new ListObjectsV2Command({ Bucket: "runs", Prefix: `store/runs/${runId}/` }))
      ).Contents?.map((o) => o.Key ?? "") ?? [];
    const alphaOutput = keys.find((k) => k.includes("/clusters/alpha/") && k.endsWith("/manifest.json"))!;
    const run = `store/runs/${runId}`;
    const alphaScores = `${run}/rounds/1/clusters/alpha/scores/2-a1.json`;
    await root.send(new PutObjectCommand({ Bucket: "runs", Key: alphaScores, Body: "{}" }));
    const evaluator = clientWith(await keysOf("kbeta"));
    // IAM's new keys take a moment to reach the S3 gateway.
    await expect
      .poll(() => attempt(evaluator.send(new GetObjectCommand({ Bucket: "runs", Key: alphaOutput }))))
      .toBe("allowed");
    expect({
      "read alpha's scores": await attempt(
        evaluator.send(new GetObjectCommand({ Bucket: "runs", Key: alphaScores })),
      ),
      "overwrite alpha's output": await attempt(
        evaluator.send(new PutObjectCommand({ Bucket: "runs", Key: alphaOutput, Body: "forged" })),
      ),
      "write its own scores": await attempt(
        evaluator.send(
          new PutObjectCommand({
            Bucket: "runs",
            Key: `${run}/rounds/1/clusters/kbeta/scores/0-a1.json`,
            Body: "{}",
          }),
        ),
      ),
    }).toEqual({
      "read alpha's scores": "AccessDenied",
      "overwrite alpha's output": "AccessDenied",
      "write its own scores": "allowed",
    });
  });

  test("revoked, a contributor's keys stop working, and its cluster, left without keys of its own, is passed over rather than given the worker's", async () => {
    const revokedKeys = await keysOf("kbeta");
    const revoked = await store("revoke", "kbeta");
    expect(revoked.code, revoked.stderr).toBe(0);
    const denied = await attempt(
      clientWith(revokedKeys).send(new GetObjectCommand({ Bucket: "datasets", Key: "fables/manifest.json" })),
    );
    expect(denied).not.toBe("allowed");

    const { status } = await runToEnd(stack, stack.spec({ rounds: 1, replicasPerRound: 2, minReplicas: 2 }));
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    expect(status.recent[0]?.replicas.map((r) => r.cluster)).toEqual(["alpha", "alpha"]);
    expect(keysSeenByKbeta.has(s3.credentials.accessKeyId)).toBe(false);
  });
});
