import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { parseRoundJobSpec, type RoundJobSpecInput } from "./cluster.ts";
import { buildRoundJob, buildStoreSecret, GPU_PRODUCT_LABEL } from "./roundJob.ts";

const hex = (digit: string) => `0x${digit.repeat(64)}`;
const input: RoundJobSpecInput = {
  runId: hex("a"),
  round: 3,
  image: "ghcr.io/daotrain/trainer:1",
  command: ["node", "trainer/main.ts", "--note=$(HOME)"],
  replicas: [
    { replica: 4, shards: [8, 9], outputUri: "s3://ckpt/r3/4" },
    { replica: 5, shards: [10, 11], outputUri: "s3://ckpt/r3/5" },
  ],
  totalReplicas: 6,
  gpusPerReplica: 2,
  gpuProduct: "NVIDIA-H100-80GB-HBM3",
  initUri: "s3://ckpt/r2",
  initRoot: hex("b"),
  datasetUri: "s3://data",
  datasetRoot: hex("c"),
  innerSteps: 100,
  seed: 1,
  activeDeadlineSeconds: 600,
};

test("buildRoundJob gives an Indexed Job with one GPU pod per replica, locked down, on the asked GPU product", () => {
  const { name, job, service } = buildRoundJob(parseRoundJobSpec(input), "contrib");
  expect(name).toBe("dt-aaaaaaaaaaaa-r3-a0");
  expect(job.spec).toMatchObject({
    completionMode: "Indexed",
    completions: 2,
    parallelism: 2,
    backoffLimitPerIndex: 0,
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 86_400,
  });
  const pod = job.spec?.template.spec;
  expect(pod?.restartPolicy).toBe("Never");
  expect(pod?.nodeSelector).toEqual({ [GPU_PRODUCT_LABEL]: "NVIDIA-H100-80GB-HBM3" });
  expect(pod?.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
  expect(pod?.securityContext).toMatchObject({
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
  });
  const container = pod?.containers[0];
  expect(container?.securityContext).toMatchObject({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });
  expect(container?.resources?.requests?.["nvidia.com/gpu"]).toBe("2");
  expect(container?.resources?.limits?.["nvidia.com/gpu"]).toBe("2");
  expect(pod?.subdomain).toBe(name);
  expect(service.spec?.clusterIP).toBe("None");
  expect(service.spec?.selector).toEqual(
    job.spec?.template.metadata?.labels && { "daotrain.io/round-name": name },
  );
  // The same spec always builds the same Job: what makes launch idempotent by name.
  expect(buildRoundJob(parseRoundJobSpec(input), "contrib")).toEqual(
    buildRoundJob(parseRoundJobSpec(input), "contrib"),
  );
});

test("each completion index's shell prologue hands the trainer exactly its replica's contract env", () => {
  const { job } = buildRoundJob(parseRoundJobSpec(input), "contrib");
  const container = job.spec?.template.spec?.containers[0];
  const podEnv = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? ""]));
  const [shell, ...args] = container?.command ?? [];
  const trainerArgs = args.slice(3);
  // Kubernetes would turn "$$(" back into "$(": the trainer argument arrives verbatim.
  expect(trainerArgs.at(-1)).toBe("--note=$$(HOME)");
  const show = [
    "node",
    "-e",
    "const e=process.env;console.log([e.DAOTRAIN_REPLICA,e.DAOTRAIN_SHARDS,e.DAOTRAIN_OUTPUT_URI,e.DAOTRAIN_REPLICAS,e.DAOTRAIN_ROUND].join(' '))",
  ];
  const run = (index: number) =>
    execFileSync(shell ?? "", [...args.slice(0, 3), ...show], {
      env: { PATH: process.env.PATH, ...podEnv, JOB_COMPLETION_INDEX: String(index) },
    })
      .toString()
      .trim();
  expect(run(0)).toBe("4 8,9 s3://ckpt/r3/4 6 3");
  expect(run(1)).toBe("5 10,11 s3://ckpt/r3/5 6 3");
});

test("a round spec naming a replica twice or beyond totalReplicas is refused with the field named", () => {
  expect(() => parseRoundJobSpec({ ...input, replicas: [input.replicas[0], input.replicas[0]] })).toThrow(
    /replicas: each replica index may appear once/,
  );
  expect(() => parseRoundJobSpec({ ...input, totalReplicas: 5 })).toThrow(
    /replicas: replica indices must be below totalReplicas/,
  );
  expect(() => parseRoundJobSpec({ ...input, runId: "0x12" })).toThrow(/runId/);
});

const storeEnv = {
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEYID0001",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYsecretvalue",
  AWS_ENDPOINT_URL_S3: "https://s3.example.test:9000",
};

test("the run store's credentials go into a Secret the trainer reads through envFrom, never into the Job", () => {
  const spec = parseRoundJobSpec({ ...input, storeEnv });
  const { name, job, storeSecret } = buildRoundJob(spec, "contrib");
  const jobText = JSON.stringify(job);
  for (const value of Object.values(storeEnv)) expect(jobText).not.toContain(value);
  const container = job.spec?.template.spec?.containers[0];
  expect(container?.envFrom).toEqual([{ secretRef: { name: `${name}-store` } }]);
  expect(storeSecret).toEqual({
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: `${name}-store`, namespace: "contrib", labels: job.metadata?.labels },
    stringData: storeEnv,
  });
  expect(buildStoreSecret(name, job.metadata?.labels ?? {}, spec.storeEnv, "contrib")).toEqual(storeSecret);

  // Without storeEnv there is no Secret and nothing names one.
  const plain = buildRoundJob(parseRoundJobSpec(input), "contrib");
  expect(plain.storeSecret).toBeUndefined();
  expect(plain.job.spec?.template.spec?.containers[0]?.envFrom).toBeUndefined();
});

test("a storeEnv name that is not an environment variable, or that shadows the trainer contract, is refused by name", () => {
  expect(() => parseRoundJobSpec({ ...input, storeEnv: { "aws-key": "x" } })).toThrow(
    /storeEnv\.aws-key: "aws-key" is not an environment variable name/,
  );
  expect(() => parseRoundJobSpec({ ...input, storeEnv: { "1KEY": "x" } })).toThrow(/"1KEY"/);
  expect(() => parseRoundJobSpec({ ...input, storeEnv: { DAOTRAIN_SEED: "9" } })).toThrow(
    /storeEnv\.DAOTRAIN_SEED: .*trainer contract/,
  );
  // The refusal names the variable, never its value.
  const error = (() => {
    try {
      parseRoundJobSpec({ ...input, storeEnv: { "bad name": "hunter2-secret" } });
    } catch (e) {
      return e as Error;
    }
  })();
  expect(error?.message).toContain('"bad name"');
  expect(error?.message).not.toContain("hunter2-secret");
});

test("each replica's pod gets the spec's cpu, memory and ephemeral storage as requests and limits, and /tmp is capped by the latter", () => {
  const sized = buildRoundJob(
    parseRoundJobSpec({ ...input, cpu: "3", memory: "12Gi", ephemeralStorage: "40Gi" }),
    "contrib",
  );
  const pod = sized.job.spec?.template.spec;
  const expected = { cpu: "3", memory: "12Gi", "ephemeral-storage": "40Gi", "nvidia.com/gpu": "2" };
  expect(pod?.containers[0]?.resources).toEqual({ requests: expected, limits: expected });
  expect(pod?.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "40Gi" } }]);

  // Without them, today's 1 CPU and 2 GiB, and 20 GiB of ephemeral storage.
  const plain = buildRoundJob(parseRoundJobSpec(input), "contrib").job.spec?.template.spec;
  expect(plain?.containers[0]?.resources?.limits).toMatchObject({
    cpu: "1",
    memory: "2Gi",
    "ephemeral-storage": "20Gi",
  });
  expect(() => parseRoundJobSpec({ ...input, memory: "lots" })).toThrow(/memory: must be a byte quantity/);
});

test("a round for a contributor's Kueue queue is labelled for its LocalQueue and starts suspended, at the contributor's priority", () => {
  const { job } = buildRoundJob(
    parseRoundJobSpec({ ...input, queue: "daotrain-gpus", priorityClassName: "daotrain-low" }),
    "contrib",
  );
  expect(job.metadata?.labels?.["kueue.x-k8s.io/queue-name"]).toBe("daotrain-gpus");
  expect(job.spec?.suspend).toBe(true);
  expect(job.spec?.template.spec?.priorityClassName).toBe("daotrain-low");
  const plain = buildRoundJob(parseRoundJobSpec(input), "contrib").job;
  expect(plain.spec?.suspend).toBeUndefined();
  expect(plain.metadata?.labels?.["kueue.x-k8s.io/queue-name"]).toBeUndefined();
});
