import { describe, expect, test } from "vitest";
import { judge, type RoundEvidence } from "../diloco/index.ts";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import {
  parseRoundRecord,
  RoundRecordInvalidError,
  recordedEvidence,
  recordedVerdicts,
  roundRecord,
  roundRecordBytes,
  roundRecordHash,
} from "./record.ts";

const root = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;
const spec = tinySpec({ replicasPerRound: 3, minReplicas: 1 });

/** Two measured replicas (one with values JSON cannot hold) and one that failed to be read. */
const evidence: RoundEvidence = {
  globalRoot: root(1),
  globalMaxAbs: 0.5,
  globalHeldOutLoss: 5.25,
  replicas: [
    {
      id: "0",
      root: root(10),
      delta: { norm: 0.1, maxAbs: 0.01, sketch: Float32Array.from([0.001, -0.002, 1e-7, -0]) },
      scores: { heldOutLoss: 5.1, ownShards: [2, 3], ownShardLoss: 4.9, ownShardLossOfGlobal: 5.3 },
    },
    {
      id: "1",
      root: root(11),
      delta: { norm: Number.POSITIVE_INFINITY, maxAbs: 3, sketch: Float32Array.from([Number.NaN, 1, 2, 3]) },
      scores: { heldOutLoss: Number.NaN, ownShards: [4], ownShardLoss: 7, ownShardLossOfGlobal: -Infinity },
    },
    { id: "2", defect: { reason: "unreadable", message: "no object at s3://runs/x/manifest.json" } },
  ],
};

function record() {
  return roundRecord({
    runId: root(7),
    round: 2,
    spec,
    parent: { root: root(1), uri: "file:///store/runs/r/rounds/1/global/manifest.json" },
    outputs: [0, 1, 2].map((replica) => ({
      replica,
      clusterId: root(100 + replica),
      outputUri: `file:///store/runs/r/rounds/2/clusters/c/replicas/${replica}-a1`,
      shards: [replica * 2, replica * 2 + 1],
    })),
    step: { evidence, verdicts: judge(evidence, spec) },
    next: { root: root(2), manifestUri: "file:///store/runs/r/rounds/2/global/manifest.json" },
  });
}

describe("the round record", () => {
  test("keeps every bit of the evidence through its canonical JSON, so judge() gives the same verdicts from it", () => {
    const bytes = roundRecordBytes(record());
    const parsed = parseRoundRecord(bytes);
    const back = recordedEvidence(parsed);
    expect(back).toEqual(evidence);
    const sketch = (r: RoundEvidence["replicas"][number]) => ("delta" in r ? r.delta.sketch : undefined);
    expect(Object.is(sketch(back.replicas[0]!)?.[3], -0)).toBe(true);
    expect(judge(back, spec)).toEqual(recordedVerdicts(parsed));
    expect(roundRecordBytes(parsed).equals(bytes)).toBe(true);
  });

  test("is named by the sha256 of its bytes, which change with any field", () => {
    const original = record();
    const hash = roundRecordHash(roundRecordBytes(original));
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(roundRecordHash(roundRecordBytes(record()))).toBe(hash);
    const swapped = { ...original, replicas: [...original.replicas].reverse() };
    expect(roundRecordHash(roundRecordBytes(swapped))).not.toBe(hash);
  });

  test("refuses bytes that are not JSON of the schema, naming the field", () => {
    expect(() => parseRoundRecord(Buffer.from("{"))).toThrow(RoundRecordInvalidError);
    const wrong = { ...record(), round: 0 };
    expect(() => parseRoundRecord(Buffer.from(JSON.stringify(wrong)))).toThrow(/round: /);
    const extra = { ...record(), operatorSays: "trust me" };
    expect(() => parseRoundRecord(Buffer.from(JSON.stringify(extra)))).toThrow(/operatorSays|Unrecognized/);
  });
});
