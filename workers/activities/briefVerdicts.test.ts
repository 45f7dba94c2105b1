import { expect, test } from "vitest";
import { REAL_SIZE_SCORES, realSizeAcceptedVerdict } from "../../tests/orchestration/fixtures.ts";
import { DETAILED_ROUND_REPLICAS, type Hex, type ReplicaVerdict } from "../../workflows/types.ts";
import { briefVerdicts } from "./aggregation.ts";

// What a round's verdicts weigh on their way back to the workflow. The messages are the outer
// step's own (an accepted one from the demo's worker log, `realSizeAcceptedVerdict`), the scores
// full doubles, each output scored by an evaluating cluster: 6,400 of them in full are over Temporal's 2 MiB payload limit.

const MiB = 2 ** 20;
const evaluator = `0x${"e".repeat(64)}` as Hex;
const accepted = (replica: number): ReplicaVerdict => ({
  ...realSizeAcceptedVerdict(replica),
  evaluatedBy: [evaluator],
});
const rejected = (replica: number): ReplicaVerdict => ({
  replica,
  accepted: false,
  reason: "hash-mismatch",
  detail: `shard model-00001-of-00002.safetensors: sha256 ${"1".repeat(64)}, the manifest says ${"2".repeat(64)}`,
  scores: REAL_SIZE_SCORES,
  evaluatedBy: [evaluator],
});
const bytes = (verdicts: ReplicaVerdict[]) => Buffer.byteLength(JSON.stringify(verdicts));

test("a round of 6,400 replicas brings its verdicts back in well under Temporal's 2 MiB, all rejected or none", () => {
  const replicas = 6_400;
  for (const make of [accepted, rejected]) {
    const full = Array.from({ length: replicas }, (_, i) => make(i));
    expect(bytes(full)).toBeGreaterThan(2 * MiB);
    const brief = briefVerdicts(full, replicas);
    expect(bytes(brief)).toBeLessThan(MiB);
    expect(brief.map((v) => [v.replica, v.accepted])).toEqual(full.map((v) => [v.replica, v.accepted]));
  }
  const [shortened] = briefVerdicts([rejected(0)], replicas);
  expect(shortened).toEqual({
    replica: 0,
    accepted: false,
    reason: "hash-mismatch",
    detail: expect.stringMatching(/^shard model-00001-of-00002\.safetensors: sha256 1+…$/),
  });
  expect((shortened as Extract<ReplicaVerdict, { accepted: false }>).detail).toHaveLength(80);
  expect(briefVerdicts([accepted(0)], replicas)).toEqual([{ replica: 0, accepted: true }]);
});

test(`a round of up to ${DETAILED_ROUND_REPLICAS} replicas brings every verdict back whole`, () => {
  const full = Array.from({ length: DETAILED_ROUND_REPLICAS }, (_, i) => (i % 2 ? accepted(i) : rejected(i)));
  expect(briefVerdicts(full, DETAILED_ROUND_REPLICAS)).toEqual(full);
});
