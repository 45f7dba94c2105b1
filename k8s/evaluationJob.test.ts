import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { type EvaluationJobSpecInput, parseEvaluationJobSpec } from "./cluster.ts";
import { buildEvaluationJob, TASK_LABEL } from "./evaluationJob.ts";

const hex = (digit: string) => `0x${digit.repeat(64)}`;
const input: EvaluationJobSpecInput = {
  runId: hex("a"),
  round: 3,
  image: "ghcr.io/daotrain/trainer:1",
  command: ["node", "trainer/evaluate.ts"],
  cpu: "2",
  memory: "4Gi",
  ephemeralStorage: "8Gi",
  initUri: "s3://ckpt/r2",
  initRoot: hex("b"),
  datasetUri: "s3://data",
  datasetRoot: hex("c"),
  scoringSeed: hex("d"),
  storeEnv: { AWS_ACCESS_KEY_ID: "AKIAEVALUATOR" },
  outputs: [
    {
      replica: 4,
      outputUri: "s3://ckpt/r3/4",
      outputRoot: hex("e"),
      scoresUri: "s3://ckpt/kb/scores/4-a0.json",
    },
    {
      replica: 7,
      outputUri: "s3://ckpt/r3/7",
      outputRoot: hex("f"),
      scoresUri: "s3://ckpt/kb/scores/7-a0.json",
    },
  ],
};

test("an evaluation Job is a trainer's locked-down Indexed Job without GPU, node selector or rendezvous, named apart from the round's", () => {
  const spec = parseEvaluationJobSpec(input);
  const { name, job, storeSecret } = buildEvaluationJob(spec, "contrib");
  expect(name).toBe("dt-aaaaaaaaaaaa-r3-a0-eval");
  expect(job.metadata?.labels?.[TASK_LABEL]).toBe("evaluate");
  expect(job.metadata?.annotations?.["daotrain.io/replicas"]).toBe("4,7");
  expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 2, parallelism: 2 });
  const pod = job.spec?.template.spec;
  expect(pod?.subdomain).toBeUndefined();
  expect(pod?.nodeSelector).toBeUndefined();
  expect(pod?.automountServiceAccountToken).toBe(false);
  const container = pod?.containers[0];
  expect(container?.resources?.requests).toEqual({ cpu: "2", memory: "4Gi", "ephemeral-storage": "8Gi" });
  expect(container?.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
  });
  // The evaluating cluster's keys reach the pods through a Secret, never the Job.
  expect(container?.envFrom).toEqual([{ secretRef: { name: `${name}-store` } }]);
  expect(storeSecret?.stringData).toEqual({ AWS_ACCESS_KEY_ID: "AKIAEVALUATOR" });
  expect(JSON.stringify(job)).not.toContain("AKIAEVALUATOR");
  expect(buildEvaluationJob(spec, "contrib")).toEqual({ name, job, storeSecret });
});

test("each completion index's evaluator gets exactly its output's contract env", () => {
  const { job } = buildEvaluationJob(parseEvaluationJobSpec(input), "contrib");
  const container = job.spec?.template.spec?.containers[0];
  const podEnv = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? ""]));
  const [shell, ...args] = container?.command ?? [];
  const show = [
    "node",
    "-e",
    "const e=process.env;console.log([e.DAOTRAIN_REPLICA,e.DAOTRAIN_EVALUATE_URI,e.DAOTRAIN_EVALUATE_ROOT.slice(0,4),e.DAOTRAIN_SCORES_URI,e.DAOTRAIN_SCORING_SEED.slice(0,4),e.DAOTRAIN_ROUND].join(' '))",
  ];
  const run = (index: number) =>
    execFileSync(shell ?? "", [...args.slice(0, 3), ...show], {
      env: { PATH: process.env.PATH, ...podEnv, JOB_COMPLETION_INDEX: String(index) },
    })
      .toString()
      .trim();
  expect(run(0)).toBe("4 s3://ckpt/r3/4 0xee s3://ckpt/kb/scores/4-a0.json 0xdd 3");
  expect(run(1)).toBe("7 s3://ckpt/r3/7 0xff s3://ckpt/kb/scores/7-a0.json 0xdd 3");
});

test("an evaluation spec is refused naming what is wrong: a seed not 64 hex digits, a replica twice", () => {
  expect(() => parseEvaluationJobSpec({ ...input, scoringSeed: "0x12" })).toThrow(/scoringSeed/);
  expect(() => parseEvaluationJobSpec({ ...input, outputs: [input.outputs[0]!, input.outputs[0]!] })).toThrow(
    /each replica index may appear once/,
  );
});
