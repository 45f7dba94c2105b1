import type { CheckpointManifest } from "../checkpoints/manifest.ts";
import { CheckpointChangedError } from "../checkpoints/stream.ts";
import { floatTensor, type Tensor } from "../checkpoints/tensor.ts";
import { writeCheckpoint } from "../checkpoints/write.ts";
import { type Dataset, openDataset } from "../datasets/read.ts";
import { deterministicLoss } from "../model/deterministicLoss.ts";
import { parameterShapes, runSpecMetadata } from "../model/parameters.ts";
import {
  heldOutScoringBatches,
  type ReplicaScores,
  type ScoringSeed,
  scoreReplica,
  scoringShards,
} from "../model/replicaScores.ts";
import type { Bytes32, RunSpec } from "../spec/runSpec.ts";
import { aggregateReplicas, type NextGlobal } from "./aggregate.ts";
import { type ReplicaBounds, replicaBounds } from "./bounds.ts";
import { type GlobalState, MOMENTUM_PREFIX, readGlobal } from "./global.ts";
import { type ReplicaInput, readReplicaManifest, readReplicaTensors } from "./replica.ts";
import type { DeltaSource } from "./replicaForm.ts";
import { roundSeed, sketchCoordinates } from "./sampling.ts";
import {
  type Defect,
  judge,
  type RejectionReason,
  type ReplicaEvidence,
  type RoundEvidence,
  type Verdict,
} from "./verdicts.ts";

export interface Rejection {
  readonly id: string;
  readonly reason: RejectionReason;
  readonly message: string;
}

export interface OuterStepInput {
  /** Local directory of the round's global checkpoint θ. */
  readonly global: string;
  /** The root θ is committed under (on-chain); verified when given. */
  readonly globalRoot?: Bytes32;
  /** In the order their pseudo-gradients are summed. */
  readonly replicas: readonly ReplicaInput[];
  readonly spec: RunSpec;
  /**
   * The run's dataset (root spec.dataset) as a local directory holding its manifest and at least
   * the shards `select` picks: the held-out ones and the few each replica is scored on.
   */
  dataset(select: (shard: { readonly [field: string]: unknown }, index: number) => boolean): Promise<string>;
  /** Replica values held at once while averaging (aggregate.ts); default 32 MiB. */
  readonly aggregationBufferBytes?: number;
  /**
   * Where each replica's scores come from. By default this process computes them (`compute`); a
   * caller holding scores computed elsewhere (evaluation Jobs) returns those, naming who computed
   * them, and calls `compute` for any it must check or lacks. The verdicts are judge(evidence)
   * either way, and the scores the same bits whoever computed them.
   */
  scores?(replica: ScoringRequest, compute: () => Promise<ReplicaScores>): Promise<ScoredReplica>;
}

/** A replica whose bytes were read and verified, about to be scored. */
export interface ScoringRequest {
  readonly id: string;
  readonly index: number;
  /** Its root, recomputed from the bytes the scores must be of. */
  readonly root: Bytes32;
  /** The round's sampling seed the scores are drawn with. */
  readonly seed: ScoringSeed;
}

export interface ScoredReplica {
  readonly scores: ReplicaScores;
  /** Who else computed these bits (ReplicaEvidence's `evaluatedBy`); absent or empty: only this process. */
  readonly evaluatedBy?: readonly string[];
}

export interface OuterStepResult {
  readonly accepted: readonly string[];
  readonly rejected: readonly Rejection[];
  /** One per replica, in input order. */
  readonly verdicts: readonly Verdict[];
  /** What the verdicts rest on: judge(evidence, spec) gives them again. */
  readonly evidence: RoundEvidence;
  /** Held-out loss of θ, of each replica that got as far as being scored, and of the new θ. */
  readonly valLoss: {
    readonly global: number;
    readonly replicas: Readonly<Record<string, number>>;
    readonly next: number | null;
  };
  readonly quorum: boolean;
  /** Writes the next global checkpoint (parameters and `outer.momentum.*`); throws without quorum. */
  write(dir: string): Promise<CheckpointManifest>;
}

/** Fewer replicas passed validation than the run spec's minReplicas. */
export class NoQuorumError extends Error {
  override readonly name = "NoQuorumError";
}

/**
 * DiLoCo's outer step for one round, one replica at a time. θ is read and verified; each
 * replica's manifest is read within the bounds the spec allows (bounds.ts); the round's sampling
 * seed follows from their roots (sampling.ts); then each replica is read once, front to back —
 * bytes re-hashed, lineage, shapes, finite values, its pseudo-gradient measured — and scored on
 * held-out and own-shard windows (scores.ts), and only its measurements are kept. The verdicts
 * are a pure function of those measurements (verdicts.ts). The accepted replicas are averaged a
 * piece of a tensor at a time (aggregate.ts) and applied with the Nesterov outer optimizer, whose
 * momentum comes from and goes to the global checkpoint. Memory: θ, its momentum, the result and
 * one replica, whatever the number of replicas.
 */
export async function outerStep(input: OuterStepInput): Promise<OuterStepResult> {
  const { spec } = input;
  const global = await readGlobal(input.global, spec, input.globalRoot);
  const bounds = replicaBounds(spec);
  const { defects, readable, seed } = await roundManifests(global, input.replicas, bounds);
  const evidence = new Map<string, ReplicaEvidence>();
  for (const [id, defect] of defects) evidence.set(id, { id, defect });
  const { dataset, heldOut } = await scoringData(
    input,
    readable.map((r) => r.replica),
    seed,
  );
  const globalHeldOutLoss = await deterministicLoss(global.params, spec.model, heldOut);

  // One replica at a time: read once, measured, scored; only the measurements stay. Where scores
  // come from elsewhere (evaluation Jobs), θₖ is not kept: the few this process must score itself
  // are read again, and verified again, when it does.
  const sketch = sketchCoordinates(global.size, seed);
  const sources = new Map<string, DeltaSource>();
  const scoresHere = !input.scores;
  for (const { replica, manifest } of readable) {
    const read = (keepValues: boolean) =>
      readReplicaTensors(replica.dir, manifest, replica.root, global, spec, bounds, sketch, keepValues);
    const contents = await read(scoresHere);
    if ("reason" in contents) {
      evidence.set(replica.id, { id: replica.id, root: manifest.root, defect: contents });
      continue;
    }
    const compute = async () =>
      scoreReplica({
        spec,
        global: global.params,
        replica: contents.values ?? (await valuesReadAgain(read, contents.root)),
        index: replica.index,
        seed,
        dataset,
        heldOut,
      });
    const request = { id: replica.id, index: replica.index, root: contents.root, seed };
    const { scores, evaluatedBy } = input.scores
      ? await input.scores(request, compute)
      : { scores: await compute(), evaluatedBy: undefined };
    evidence.set(replica.id, {
      id: replica.id,
      root: contents.root,
      delta: contents.delta,
      scores,
      ...(evaluatedBy && evaluatedBy.length > 0 ? { evaluatedBy } : {}),
    });
    sources.set(replica.id, contents.source);
  }

  const round: RoundEvidence = {
    globalRoot: global.root,
    globalMaxAbs: global.maxAbs,
    globalHeldOutLoss,
    replicas: input.replicas.map((r) => evidence.get(r.id)!),
  };
  const verdicts = judge(round, spec);
  const accepted = verdicts.filter((v) => v.accepted).map((v) => v.id);
  const rejected = verdicts.flatMap((v) =>
    v.accepted ? [] : [{ id: v.id, reason: v.reason, message: v.message }],
  );
  const quorum = accepted.length >= spec.minReplicas && accepted.length > 0;
  const next = quorum
    ? await aggregateReplicas(
        global,
        accepted.map((id) => ({ source: sources.get(id)! })),
        spec,
        input.aggregationBufferBytes,
      )
    : null;
  const nextLoss = next ? await deterministicLoss(next.params, spec.model, heldOut) : null;
  const scored = round.replicas.flatMap((e) => ("scores" in e ? [[e.id, e.scores] as const] : []));
  const acceptedScores = scored.filter(([id]) => accepted.includes(id)).map(([, s]) => s);
  return {
    accepted,
    rejected,
    verdicts,
    evidence: round,
    valLoss: {
      global: globalHeldOutLoss,
      replicas: Object.fromEntries(scored.map(([id, s]) => [id, s.heldOutLoss])),
      next: nextLoss,
    },
    quorum,
    write: async (dir: string) => {
      if (!next) {
        throw new NoQuorumError(
          `round ${global.manifest.round}: ${accepted.length} replica(s) passed validation, the run needs ${spec.minReplicas}`,
        );
      }
      return writeCheckpoint(dir, nextTensors(next, spec), {
        runId: global.manifest.runId,
        round: global.manifest.round + 1,
        parentRoot: global.root,
        metrics: nextMetrics(
          global,
          spec,
          acceptedScores.map((s) => s.ownShardLoss),
          {
            valLoss: nextLoss,
            replicasAccepted: accepted.length,
            replicasRejected: rejected.length,
            previousValLoss: globalHeldOutLoss,
          },
        ),
        metadata: runSpecMetadata(spec),
      });
    },
  };
}

/** θₖ of a replica read again, its bytes still those first verified (else the worker's own failure). */
async function valuesReadAgain(
  read: (keepValues: boolean) => Promise<Awaited<ReturnType<typeof readReplicaTensors>>>,
  root: Bytes32,
): Promise<Record<string, Float32Array>> {
  const again = await read(true);
  if ("reason" in again || again.root !== root || !again.values)
    throw new CheckpointChangedError(`a replica's output changed after it was verified (root ${root})`);
  return again.values;
}

/** A replica whose manifest passed its bounds and lineage: its tensors come next. */
export interface ReadableReplica {
  readonly replica: Extract<ReplicaInput, { dir: string }>;
  readonly manifest: CheckpointManifest;
}

export interface RoundManifests {
  /** By replica id: what reading its output (or fetching it) found wrong before any tensor. */
  readonly defects: ReadonlyMap<string, Defect>;
  /** In input order. */
  readonly readable: readonly ReadableReplica[];
  /** The round's sampling seed (sampling.ts `roundSeed`): over θ's root and the readable roots. */
  readonly seed: number[];
}

/**
 * The first part of the outer step, which needs no tensor: every replica's manifest read within
 * its bounds and checked against θ's run, round and root, and the round's sampling seed from the
 * roots that passed. A caller that hands scoring to evaluation Jobs runs it ahead of the outer
 * step to learn the seed the scores are drawn with; the outer step derives the same one.
 */
export async function roundManifests(
  global: Pick<GlobalState, "manifest" | "root">,
  replicas: readonly ReplicaInput[],
  bounds: ReplicaBounds,
): Promise<RoundManifests> {
  const manifests = await Promise.all(
    replicas.map(async (r) => ("defect" in r ? r.defect : await readReplicaManifest(r.dir, global, bounds))),
  );
  const defects = new Map<string, Defect>();
  const readable: ReadableReplica[] = [];
  for (const [i, replica] of replicas.entries()) {
    const manifest = manifests[i]!;
    if ("reason" in manifest) defects.set(replica.id, manifest);
    else if ("dir" in replica) readable.push({ replica, manifest });
  }
  const seed = roundSeed(
    global.root,
    readable.map(({ replica, manifest }) => ({ id: replica.id, root: manifest.root })),
  );
  return { defects, readable, seed };
}

/**
 * The dataset as the scores need it, and the held-out batches: only the held-out shards and, for
 * each readable replica, the training shards its own-shard windows come from (drawn with the
 * round's seed) are asked of `input.dataset`.
 */
async function scoringData(
  input: OuterStepInput,
  replicas: readonly { id: string; index: number }[],
  seed: ScoringSeed,
): Promise<{ dataset: Dataset; heldOut: Awaited<ReturnType<typeof heldOutScoringBatches>> }> {
  const { spec } = input;
  const { manifest } = await openDataset(await input.dataset(() => false), spec.dataset);
  const needed = new Set(replicas.flatMap((r) => scoringShards(manifest, spec, r.index, seed)));
  const dataset = await openDataset(
    await input.dataset((shard, i) => shard.split === "validation" || needed.has(i)),
    spec.dataset,
  );
  return { dataset, heldOut: await heldOutScoringBatches(dataset, spec) };
}

function nextTensors(next: NextGlobal, spec: RunSpec): Record<string, Tensor> {
  const tensors: Record<string, Tensor> = {};
  for (const [name, shape] of parameterShapes(spec.model)) {
    tensors[name] = floatTensor(shape, next.params[name]!);
    tensors[`${MOMENTUM_PREFIX}${name}`] = floatTensor(shape, next.momentum[name]!);
  }
  return tensors;
}

/**
 * The next checkpoint's metrics, none of them a replica's own claim: `loss` is the mean of the
 * accepted replicas' losses on their own-shard windows as the worker measured them, `tokens` adds
 * what `innerSteps` steps of `inner.batch` windows of `contextLength` tokens allow each accepted
 * replica (what the run paid for; a replica's count cannot be checked and is not read).
 */
function nextMetrics(
  global: GlobalState,
  spec: RunSpec,
  acceptedLosses: readonly number[],
  rest: {
    valLoss: number | null;
    replicasAccepted: number;
    replicasRejected: number;
    previousValLoss: number;
  },
) {
  const tokensPerReplica = spec.innerSteps * spec.inner.batch * spec.model.contextLength;
  return {
    loss: acceptedLosses.reduce((a, b) => a + b, 0) / acceptedLosses.length,
    tokens: global.manifest.metrics.tokens + rest.replicasAccepted * tokensPerReplica,
    steps: global.manifest.metrics.steps + spec.innerSteps,
    ...rest,
  };
}
