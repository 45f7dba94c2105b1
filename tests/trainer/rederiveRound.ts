#!/usr/bin/env node
/**
 * Redoes one outer step in a process of its own, as an auditor would, and prints what it decided
 * as JSON: the new global checkpoint's root, the verdicts and the evidence (sketches as arrays).
 * Usage: node tests/trainer/rederiveRound.ts '<OuterStepRequest as JSON>'. The test that runs it
 * changes the process's backend and thread counts, which must change nothing printed.
 */
import { execFile } from "node:child_process";
import { outerStep, type ReplicaInput } from "../../diloco/index.ts";
import { selectBackend } from "../../model/backend.ts";
import type { RunSpec } from "../../spec/runSpec.ts";

export interface OuterStepRequest {
  global: string;
  replicas: ReplicaInput[];
  spec: RunSpec;
  datasetDir: string;
  out: string;
  aggregationBufferBytes?: number;
}

export async function rederive(request: OuterStepRequest) {
  const step = await outerStep({
    global: request.global,
    replicas: request.replicas,
    spec: request.spec,
    dataset: async () => request.datasetDir,
    ...(request.aggregationBufferBytes ? { aggregationBufferBytes: request.aggregationBufferBytes } : {}),
  });
  const manifest = await step.write(request.out);
  return {
    root: manifest.root,
    metrics: manifest.metrics,
    verdicts: step.verdicts,
    evidence: JSON.parse(
      JSON.stringify(step.evidence, (_, value) => (value instanceof Float32Array ? [...value] : value)),
    ),
  };
}

/**
 * The same in a process of its own pinned to one core, on TensorFlow.js's pure-JS `cpu` backend
 * with one libuv thread: what an auditor's machine could differ in, none of which may change a bit.
 */
export function rederiveElsewhere(
  request: OuterStepRequest,
): Promise<{ backend: string } & Awaited<ReturnType<typeof rederive>>> {
  const script = new URL(import.meta.url).pathname;
  return new Promise((resolve, reject) =>
    execFile(
      "taskset",
      ["-c", "0", process.execPath, script, JSON.stringify(request)],
      {
        env: { ...process.env, DAOTRAIN_BACKEND: "cpu", UV_THREADPOOL_SIZE: "1" },
        maxBuffer: 64 * 2 ** 20,
      },
      (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(JSON.parse(stdout))),
    ),
  );
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  // A worker on a machine with TensorFlow's native library would have made it current.
  const backend = await selectBackend();
  const result = await rederive(JSON.parse(process.argv[2]!) as OuterStepRequest);
  process.stdout.write(`${JSON.stringify({ backend: backend.name, ...result })}\n`);
}
