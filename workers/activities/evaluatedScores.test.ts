import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { MockActivityEnvironment } from "@temporalio/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { ScoredReplica } from "../../diloco/index.ts";
import type { ReplicaScores } from "../../model/replicaScores.ts";
import { RunStore } from "../../rounds/runStore.ts";
import { encodeScoresFile } from "../../spec/trainerContract.ts";
import type { Hex, RoundEvaluations } from "../../workflows/types.ts";
import { evaluatedScores } from "./aggregation.ts";

// The worker's reading of evaluators' scores (the rule of workflows/evaluation.ts), over a real
// file store: which claims it takes, when it computes itself, whom it names a liar.

const hex = (digit: string) => `0x${digit.repeat(64)}` as Hex;
const runId = hex("a");
const root = hex("b");
const seedWords = [1, 2, 3, 4, 5, 6, 7, 8];
const seed = `0x${seedWords.map((w) => w.toString(16).padStart(8, "0")).join("")}` as Hex;
const honest: ReplicaScores = {
  heldOutLoss: 5.25,
  ownShards: [3, 7],
  ownShardLoss: 5.5,
  ownShardLossOfGlobal: 5.75,
};
const alpha = { clusterId: hex("1"), clusterName: "alpha" };
const gamma = { clusterId: hex("3"), clusterName: "gamma" };

let dir: string;
let store: RunStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-evaluated-"));
  store = new RunStore(pathToFileURL(join(dir, "store")).href, join(dir, "work"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function write(evaluator: string, replica: number, scores: ReplicaScores, bound: { root?: Hex } = {}) {
  const key = store.scoresKey(runId, 1, evaluator, replica, 1);
  const file = {
    runId,
    round: 0,
    replica,
    root: bound.root ?? root,
    seed,
    scores: { ...scores, ownShards: [...scores.ownShards] },
  };
  await store.store.putBytes(key, Buffer.from(encodeScoresFile(file)));
}

/** Scores one output (replica `replica`) as the outer step would ask, counting the worker's own computations. */
async function score(replica: number, evaluators: (typeof alpha)[], recheck = false) {
  const evaluations: RoundEvaluations = {
    attempt: 1,
    seed,
    outputs: [{ replica, root, evaluators, recheck }],
  };
  const liars = new Set<Hex>();
  let computed = 0;
  const read = evaluatedScores({ runStore: store, runId, round: 1, evaluations, liars });
  const result: ScoredReplica = await new MockActivityEnvironment().run(() =>
    read({ id: String(replica), index: replica, root, seed: seedWords }, async () => {
      computed += 1;
      return honest;
    }),
  );
  return { ...result, computed, liars: [...liars] };
}

test("two evaluators that agree are taken as they are: no computation, both named", async () => {
  await write("alpha", 0, honest);
  await write("gamma", 0, honest);
  expect(await score(0, [alpha, gamma])).toEqual({
    scores: honest,
    evaluatedBy: [alpha.clusterId, gamma.clusterId],
    computed: 0,
    liars: [],
  });
});

test("two that disagree: the worker computes, and the one that differs from its bits is the liar", async () => {
  await write("alpha", 1, honest);
  await write("gamma", 1, { ...honest, heldOutLoss: 1 });
  expect(await score(1, [alpha, gamma])).toEqual({
    scores: honest,
    evaluatedBy: [alpha.clusterId],
    computed: 1,
    liars: [gamma.clusterId],
  });
});

test("a drawn re-check computes even when the lone evaluator's scores look fine, and catches a lie", async () => {
  await write("alpha", 2, { ...honest, ownShardLoss: 4 });
  expect(await score(2, [alpha], true)).toMatchObject({
    scores: honest,
    computed: 1,
    liars: [alpha.clusterId],
  });
  await write("alpha", 3, honest);
  expect(await score(3, [alpha], true)).toEqual({
    scores: honest,
    evaluatedBy: [alpha.clusterId],
    computed: 1,
    liars: [],
  });
});

test("no file, or one that does not parse: computed, nobody struck; a file bound to another root: a lie", async () => {
  expect(await score(4, [alpha])).toMatchObject({ scores: honest, computed: 1, liars: [] });
  await store.store.putBytes(store.scoresKey(runId, 1, "alpha", 5, 1), Buffer.from("{not json"));
  expect(await score(5, [alpha])).toMatchObject({ scores: honest, computed: 1, liars: [] });
  await write("alpha", 6, honest, { root: hex("c") });
  expect(await score(6, [alpha])).toMatchObject({ scores: honest, computed: 1, liars: [alpha.clusterId] });
});
