import { assignShards, readDatasetManifest } from "../datasets/index.ts";
import {
  type OuterStepInput,
  type OuterStepResult,
  outerStep,
  type ReplicaBounds,
  type ReplicaInput,
  replicaBounds,
} from "../diloco/index.ts";
import type { Bytes32, RunSpec } from "../spec/runSpec.ts";
import type { JudgedOutput } from "./record.ts";
import type { RunStore } from "./runStore.ts";

// One code path for judging a round, shared by the worker that commits it and the auditor that
// redoes it: the same staging (so the same defects), the same outer step, in the same order.

export interface RoundInputs {
  spec: RunSpec;
  /** θ, as committed (or the run's initial checkpoint). */
  parent: { uri: string; root: Bytes32 };
  /** The approved dataset's URI (its root is `spec.dataset`). */
  datasetUri: string;
  /** The replica outputs to judge, in the order their pseudo-gradients are summed. */
  outputs: readonly { replica: number; clusterId: Bytes32; outputUri: string }[];
}

export interface JudgedRound {
  step: OuterStepResult;
  /** Each output with its assigned training shards, in the outer step's order: the record's replicas. */
  outputs: JudgedOutput[];
  /** θ as a local directory (a staged copy when the store is a bucket: the caller drops it). */
  globalDir: string;
}

export interface JudgeRoundOptions {
  /** θ already on this machine and verified (an auditor's regenerated initial checkpoint). */
  globalDir?: string;
  /** Replica values held at once while averaging (diloco/aggregate.ts). */
  aggregationBufferBytes?: number;
  /** Where scores come from (the worker: evaluation pods' files); by default the outer step computes them. */
  scores?: OuterStepInput["scores"];
}

/**
 * Stages every replica output as untrusted (RunStore.stageReplica: a missing, oversized or corrupt
 * one is that replica's defect) and θ verified against its root, runs the DiLoCo outer step over
 * them with the held-out and scoring shards of the dataset, and frees the staged replica copies.
 */
export async function judgeRound(
  runStore: RunStore,
  inputs: RoundInputs,
  options: JudgeRoundOptions = {},
): Promise<JudgedRound> {
  const { spec } = inputs;
  const bounds = replicaBounds(spec);
  const dataset = await readDatasetManifest(
    await runStore.localDir(inputs.datasetUri, spec.dataset, () => false),
  );
  const replicas = await stageOutputs(runStore, inputs.outputs, bounds);
  const globalDir = options.globalDir ?? (await runStore.localDir(inputs.parent.uri, inputs.parent.root));
  const step = await outerStep({
    global: globalDir,
    globalRoot: inputs.parent.root,
    replicas,
    spec,
    // Of a remote dataset only what the outer step asks for comes: the held-out shards and the
    // few training shards each replica is scored on.
    dataset: (select) => runStore.localDir(inputs.datasetUri, spec.dataset, select),
    ...(options.aggregationBufferBytes ? { aggregationBufferBytes: options.aggregationBufferBytes } : {}),
    ...(options.scores ? { scores: options.scores } : {}),
  });
  // The next checkpoint is computed: the replica copies are read for good (a retry re-stages).
  await runStore.dropStaged(replicas.flatMap((r) => ("dir" in r ? [r.dir] : [])));
  return {
    step,
    outputs: inputs.outputs.map((o) => ({
      ...o,
      shards: assignShards(dataset, o.replica, spec.replicasPerRound),
    })),
    globalDir,
  };
}

/**
 * The round's outputs staged as the outer step reads them (the same ids, indexes and order), each
 * as untrusted: a missing, oversized or corrupt output comes back as that replica's defect. The
 * worker's scoring stages them the same way, so the seed evaluators are told is the outer step's.
 */
export async function stageOutputs(
  runStore: RunStore,
  outputs: readonly { replica: number; outputUri: string }[],
  bounds: ReplicaBounds,
): Promise<ReplicaInput[]> {
  return await Promise.all(
    outputs.map(async (o) => ({
      id: String(o.replica),
      index: o.replica,
      ...(await runStore.stageReplica(o.outputUri, bounds)),
    })),
  );
}
