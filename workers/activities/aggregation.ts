import { heartbeat, log } from "@temporalio/activity";
import type { ReplicaEvidence, ScoredReplica, ScoringRequest } from "../../diloco/index.ts";
import type { Governance } from "../../governance/chain.ts";
import { type ReplicaScores as Scores, sameScores, scoringSeedHex } from "../../model/replicaScores.ts";
import { judgeRound } from "../../rounds/judge.ts";
import { roundRecord } from "../../rounds/record.ts";
import type { RunStore } from "../../rounds/runStore.ts";
import { MAX_SCORES_FILE_BYTES, parseScoresFile } from "../../spec/trainerContract.ts";
import { ObjectNotFoundError } from "../../storage/index.ts";
import type { AggregationActivities } from "../../workflows/activities.ts";
import {
  DETAILED_ROUND_REPLICAS,
  type Hex,
  type ReplicaScores,
  type ReplicaVerdict,
  type RoundEvaluations,
} from "../../workflows/types.ts";
import { trainerRound } from "./cluster.ts";
import { datasetUriOf } from "./datasets.ts";

export interface AggregationContext {
  chain: Governance;
  runStore: RunStore;
}

export function aggregationActivities(ctx: AggregationContext): AggregationActivities {
  return {
    async aggregateRound({ runId, round, spec, parent, outputs, evaluations }) {
      // The outer step re-hashes every replica and scores it on held-out data: seconds to minutes.
      const pulse = setInterval(() => heartbeat(), 1_000);
      try {
        const { runStore } = ctx;
        const liars = new Set<Hex>();
        // Staging judges what it fetches: a replica whose output is missing, oversized or corrupt
        // comes back as its defect, and the round goes on with the others.
        const judged = await judgeRound(
          runStore,
          {
            spec,
            parent,
            datasetUri: await datasetUriOf(ctx.chain, spec.dataset, runId),
            outputs,
          },
          evaluations ? { scores: evaluatedScores({ runStore, runId, round, evaluations, liars }) } : {},
        );
        const { step } = judged;
        const evidence = new Map(step.evidence.replicas.map((e) => [e.id, e]));
        const verdicts: ReplicaVerdict[] = step.verdicts.map((v) => {
          const scores = scoresOf(evidence.get(v.id));
          const replica = Number(v.id);
          const by = evaluatedByOf(evidence.get(v.id));
          if (v.accepted) return { replica, accepted: true, detail: v.message, scores: scores!, ...by };
          return {
            replica,
            accepted: false,
            reason: v.reason,
            detail: v.message,
            ...(scores ? { scores } : {}),
            ...by,
          };
        });
        for (const v of verdicts) log.info("replica verdict", { runId, round, ...v });
        const returned = briefVerdicts(verdicts, spec.replicasPerRound);
        const lying = liars.size > 0 ? { lyingEvaluators: [...liars].sort() } : {};
        if (lying.lyingEvaluators) log.warn("evaluators lied", { runId, round, ...lying });
        if (!step.quorum) return { verdicts: returned, checkpoint: undefined, ...lying };
        const key = runStore.globalKey(runId, round);
        const manifest = await runStore.writeCheckpoint(key, (dir) => step.write(dir));
        // The next round starts from the new global checkpoint; a retry of this one re-stages.
        await runStore.dropStaged([judged.globalDir]);
        const manifestUri = runStore.manifestUri(key);
        // Published before the commit, so that a committed round always has its record.
        const record = await runStore.publishRecord(
          roundRecord({
            runId,
            round,
            spec,
            parent,
            outputs: judged.outputs,
            step,
            next: { root: manifest.root, manifestUri },
          }),
        );
        const { metrics } = manifest;
        return {
          verdicts: returned,
          ...lying,
          checkpoint: {
            uri: manifestUri,
            root: manifest.root,
            metrics: {
              loss: metrics.loss ?? Number.NaN,
              valLoss: metrics.valLoss ?? Number.NaN,
              tokens: metrics.tokens,
              steps: metrics.steps,
            },
            record,
          },
        };
      } finally {
        clearInterval(pulse);
      }
    },
  };
}

/** How much of a rejection's message a round past DETAILED_ROUND_REPLICAS brings back. */
const BRIEF_DETAIL_CHARS = 80;

/**
 * The verdicts as the workflow receives them: all of them in full up to DETAILED_ROUND_REPLICAS
 * replicas; past it, accepted ones bare and rejections with their reason and the start of their
 * message, so that the activity's result, the round's rows and the run's status stay well under
 * Temporal's 2 MiB payload limit at 6,400 replicas however many are rejected.
 */
export function briefVerdicts(verdicts: ReplicaVerdict[], replicasPerRound: number): ReplicaVerdict[] {
  if (replicasPerRound <= DETAILED_ROUND_REPLICAS) return verdicts;
  return verdicts.map((v) =>
    v.accepted
      ? { replica: v.replica, accepted: true }
      : {
          replica: v.replica,
          accepted: false,
          reason: v.reason,
          detail:
            v.detail.length > BRIEF_DETAIL_CHARS ? `${v.detail.slice(0, BRIEF_DETAIL_CHARS - 1)}…` : v.detail,
        },
  );
}

/** The few numbers of a replica's evidence worth carrying through the workflow (no sketch). */
function scoresOf(evidence: ReplicaEvidence | undefined): ReplicaScores | undefined {
  if (!evidence || !("scores" in evidence)) return undefined;
  const { scores, delta } = evidence;
  return {
    heldOutLoss: scores.heldOutLoss,
    ownShardLoss: scores.ownShardLoss,
    ownShardLossOfGlobal: scores.ownShardLossOfGlobal,
    movement: delta.norm,
  };
}

function evaluatedByOf(evidence: ReplicaEvidence | undefined): { evaluatedBy?: Hex[] } {
  if (!evidence || !("evaluatedBy" in evidence) || !evidence.evaluatedBy) return {};
  return { evaluatedBy: evidence.evaluatedBy.map((id) => id as Hex) };
}

export interface EvaluatedScoresInput {
  runStore: RunStore;
  runId: Hex;
  round: number;
  evaluations: RoundEvaluations;
  /** Filled with the evaluating clusters caught lying. */
  liars: Set<Hex>;
}

/**
 * The outer step's source of scores when evaluation Jobs scored the round (the rule is stated in
 * workflows/evaluation.ts): the evaluators' files are read, bounded and parsed as untrusted; the
 * worker computes the scores itself when a file is missing or unreadable, the output's evaluators
 * disagree, or it was drawn for a re-check; an evaluator whose claim differs from what the worker
 * computed, or names another root or seed than it was given, joins `liars`. The verdict rests on
 * the worker's bits whenever it computed them.
 */
export function evaluatedScores(input: EvaluatedScoresInput) {
  const { runStore, runId, round, evaluations, liars } = input;
  const planned = new Map(evaluations.outputs.map((o) => [o.replica, o]));
  return async (request: ScoringRequest, compute: () => Promise<Scores>): Promise<ScoredReplica> => {
    const output = planned.get(request.index);
    // The outer step's own seed or root differing from what the evaluators were told is no one's lie.
    if (!output || output.root !== request.root || evaluations.seed !== scoringSeedHex(request.seed))
      return { scores: await compute() };
    const claims = await Promise.all(
      output.evaluators.map(async (evaluator) => ({
        evaluator,
        claim: await readClaim(
          runStore,
          runStore.scoresKey(runId, round, evaluator.clusterName, request.index, evaluations.attempt),
          { runId, round, replica: request.index, root: output.root, seed: evaluations.seed },
        ),
      })),
    );
    const first = claims[0]?.claim;
    const agreed =
      first !== undefined &&
      first !== "lie" &&
      claims.every(({ claim }) => claim !== undefined && claim !== "lie" && sameScores(claim, first));
    if (agreed && !output.recheck)
      return { scores: first, evaluatedBy: output.evaluators.map((e) => e.clusterId) };
    const scores = await compute();
    const evaluatedBy: Hex[] = [];
    for (const { evaluator, claim } of claims) {
      if (claim === undefined) continue;
      if (claim !== "lie" && sameScores(claim, scores)) evaluatedBy.push(evaluator.clusterId);
      else liars.add(evaluator.clusterId);
    }
    return { scores, evaluatedBy };
  };
}

/**
 * One evaluator's scores of an output: undefined when it wrote none or none that parses (it did not
 * do the work), "lie" when its file names another run, round, replica, root or seed than it was
 * given (bound so that no evaluator can pass off scores of something else).
 */
async function readClaim(
  runStore: RunStore,
  key: string,
  given: { runId: Hex; round: number; replica: number; root: Hex; seed: Hex },
): Promise<Scores | "lie" | undefined> {
  let text: string;
  try {
    text = Buffer.from(await runStore.store.getBytes(key, MAX_SCORES_FILE_BYTES)).toString("utf8");
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    log.warn("an evaluator's scores could not be read; the worker scores the output", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
  let file: ReturnType<typeof parseScoresFile>;
  try {
    file = parseScoresFile(text, runStore.store.uriOf(key));
  } catch (error) {
    log.warn("an evaluator's scores file is malformed; the worker scores the output", {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
  const bound =
    file.runId === given.runId &&
    file.round === trainerRound(given.round) &&
    file.replica === given.replica &&
    file.root === given.root &&
    file.seed === given.seed;
  return bound ? file.scores : "lie";
}
