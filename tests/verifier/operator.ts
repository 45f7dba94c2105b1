import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Hex } from "viem";
import { readCheckpoint, writeCheckpoint } from "../../checkpoints/index.ts";
import { assignShards, readDatasetManifest } from "../../datasets/index.ts";
import { type CheckpointMetrics, committedMetrics } from "../../governance/metrics.ts";
import { getDataset } from "../../governance/reads.ts";
import { commitRound } from "../../governance/writes.ts";
import { initialCheckpoint } from "../../model/index.ts";
import { judgeRound } from "../../rounds/judge.ts";
import { type RoundRecord, roundRecord } from "../../rounds/record.ts";
import type { RunSpec } from "../../spec/runSpec.ts";
import { trainerEnvVars } from "../../spec/trainerContract.ts";
import { splitObjectUri } from "../../storage/index.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import type { OrchestrationStack } from "../orchestration/stack.ts";

// The test plays an operator that lies: it trains and judges a round with the real pieces (the
// trainer process, rounds/judge.ts), then commits with the operator key directly what it chooses.

const repo = fileURLToPath(new URL("../../", import.meta.url));

export interface HonestRound {
  round: number;
  parent: { uri: string; root: Hex };
  record: RoundRecord;
  /** The honest next checkpoint, written where a worker writes it (the round's global key). */
  next: { root: Hex; manifestUri: string; dir: string; metrics: CheckpointMetrics };
}

/** Trains every replica of the round on this machine, judges them and writes the next checkpoint, as the worker does. */
export async function honestRound(
  stack: OrchestrationStack,
  runId: Hex,
  spec: RunSpec,
  round: number,
  parent?: { uri: string; root: Hex },
): Promise<HonestRound> {
  const { runStore } = stack;
  const init =
    parent ??
    (await (async () => {
      const key = runStore.initKey(runId);
      const { tensors, fields } = initialCheckpoint(spec);
      const manifest = await runStore.writeCheckpoint(key, (dir) => writeCheckpoint(dir, tensors, fields));
      return { uri: runStore.manifestUri(key), root: manifest.root };
    })());
  const datasetUri = (await getDataset(stack.dao.operator, spec.dataset)).uri;
  const dataset = await readDatasetManifest(await runStore.localDir(datasetUri, spec.dataset, () => false));
  const outputs = await Promise.all(
    Array.from({ length: spec.replicasPerRound }, async (_, replica) => {
      const outputUri = runStore.dirUri(runStore.replicaKey(runId, round, "alpha", replica, 1));
      await promisify(execFile)(process.execPath, [join(repo, "trainer/main.ts")], {
        cwd: repo,
        timeout: 180_000,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "/tmp",
          ...trainerEnvVars({
            DAOTRAIN_RUN_ID: runId,
            DAOTRAIN_ROUND: round - 1,
            DAOTRAIN_REPLICA: replica,
            DAOTRAIN_REPLICAS: spec.replicasPerRound,
            DAOTRAIN_INIT_URI: splitObjectUri(init.uri).storeUri,
            DAOTRAIN_INIT_ROOT: init.root,
            DAOTRAIN_DATASET_URI: datasetUri,
            DAOTRAIN_DATASET_ROOT: spec.dataset,
            DAOTRAIN_SHARDS: assignShards(dataset, replica, spec.replicasPerRound).join(","),
            DAOTRAIN_INNER_STEPS: spec.innerSteps,
            DAOTRAIN_SEED: spec.seed,
            DAOTRAIN_OUTPUT_URI: outputUri,
          }),
        },
      });
      return { replica, clusterId: clusterIdOf("alpha"), outputUri };
    }),
  );
  const judged = await judgeRound(runStore, { spec, parent: init, datasetUri, outputs });
  const key = runStore.globalKey(runId, round);
  const manifestUri = runStore.manifestUri(key);
  const manifest = await runStore.writeCheckpoint(key, (dir) => judged.step.write(dir));
  const next = { root: manifest.root, manifestUri };
  return {
    round,
    parent: init,
    record: roundRecord({
      runId,
      round,
      spec,
      parent: init,
      outputs: judged.outputs,
      step: judged.step,
      next,
    }),
    next: {
      ...next,
      dir: await runStore.localDir(manifestUri, manifest.root),
      metrics: committedMetrics(manifest.metrics),
    },
  };
}

/** Rewrites the round's global checkpoint with one parameter nudged: another root, as a lying operator's. */
export async function nudgedCheckpoint(
  stack: OrchestrationStack,
  honest: HonestRound,
): Promise<{ root: Hex; tensor: string }> {
  const checkpoint = await readCheckpoint(honest.next.dir);
  const tensor = Object.keys(checkpoint.tensors).sort()[0]!;
  const original = checkpoint.tensors[tensor]!;
  const bytes = Uint8Array.from(original.bytes);
  bytes[0] = bytes[0]! ^ 1;
  const scratch = await mkdtemp(join(stack.dir, "nudged-"));
  const { root } = await writeCheckpoint(
    join(scratch, "global"),
    { ...checkpoint.tensors, [tensor]: { ...original, bytes } },
    {
      runId: checkpoint.manifest.runId,
      round: checkpoint.manifest.round,
      parentRoot: checkpoint.manifest.parentRoot,
      metrics: checkpoint.manifest.metrics,
      metadata: checkpoint.metadata,
    },
  );
  // In place of the honest one, where the commit's manifest URI points.
  await stack.runStore.store.putFile(
    `${stack.runStore.globalKey(checkpoint.manifest.runId, checkpoint.manifest.round)}/model.safetensors`,
    join(scratch, "global", "model.safetensors"),
  );
  await stack.runStore.store.putFile(
    `${stack.runStore.globalKey(checkpoint.manifest.runId, checkpoint.manifest.round)}/manifest.json`,
    join(scratch, "global", "manifest.json"),
  );
  return { root, tensor };
}

/** Publishes `record` and commits it with `root` and the honest metrics, signed with the operator key, paying no one. */
export async function commitAsOperator(
  stack: OrchestrationStack,
  honest: HonestRound,
  record: RoundRecord,
  root: Hex,
): Promise<Hex> {
  const { hash } = await stack.runStore.publishRecord(record);
  await commitRound(stack.dao.operator, {
    runId: record.runId,
    round: BigInt(record.round),
    root,
    manifestUri: record.manifestUri,
    recordHash: hash,
    metrics: honest.next.metrics,
    records: [],
  });
  return hash;
}
