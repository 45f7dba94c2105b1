import { describe, expect, test } from "vitest";
import type { ReplicaEvidence, RoundEvidence, Verdict } from "../diloco/index.ts";
import { evidenceFindings, firstDifferentBits, verdictFindings } from "./findings.ts";

const root = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;
const measured = (id: string, heldOutLoss = 5): ReplicaEvidence => ({
  id,
  root: root(Number(id) + 10),
  delta: { norm: 0.1, maxAbs: 0.01, sketch: Float32Array.from([0.5, -0.25]) },
  scores: { heldOutLoss, ownShards: [1], ownShardLoss: 4.5, ownShardLossOfGlobal: 5.5 },
});
const round = (...replicas: ReplicaEvidence[]): RoundEvidence => ({
  globalRoot: root(1),
  globalMaxAbs: 1,
  globalHeldOutLoss: 6,
  replicas,
});

describe("comparing recorded and recomputed evidence", () => {
  test("the same bits give nothing to report", () => {
    expect(
      evidenceFindings(round(measured("0"), measured("1")), round(measured("0"), measured("1"))),
    ).toEqual([]);
  });

  test("a measure that differs by one ulp is the operator's, named with both values", () => {
    const [finding] = evidenceFindings(
      round(measured("0"), measured("1", 5)),
      round(measured("0"), measured("1", 5.000000000000001)),
    );
    expect(finding).toMatchObject({
      kind: "differs",
      subject: "replica 1 held-out loss",
      recorded: "5",
      recomputed: "5.000000000000001",
    });
  });

  test("an output whose root changed is a gap, reported before any measure it moved", () => {
    const moved = { ...measured("1", 4), root: root(99) };
    const findings = evidenceFindings(round(measured("0"), measured("1")), round(measured("0", 7), moved));
    expect(findings.map((f) => [f.kind, f.subject])).toEqual([["unavailable", "replica 1 output"]]);
  });

  test("bytes that no longer hash to the recorded root are a gap; a shape found in those bytes is not", () => {
    const corrupt: ReplicaEvidence = {
      id: "0",
      root: root(10),
      defect: { reason: "hash-mismatch", message: "x" },
    };
    const shape: ReplicaEvidence = { id: "0", root: root(10), defect: { reason: "shape", message: "y" } };
    expect(evidenceFindings(round(measured("0")), round(corrupt))[0]?.kind).toBe("unavailable");
    expect(evidenceFindings(round(measured("0")), round(shape))[0]).toMatchObject({
      kind: "differs",
      subject: "replica 0 reading",
    });
  });

  test("the sketch is compared bit for bit, NaN payloads and the sign of zero included", () => {
    expect(firstDifferentBits(Float32Array.from([0, 1]), Float32Array.from([-0, 1]))).toBe(0);
    expect(
      firstDifferentBits(Float32Array.from([Number.NaN]), Float32Array.from([Number.NaN])),
    ).toBeUndefined();
    expect(firstDifferentBits(Float32Array.from([1, 2]), Float32Array.from([1]))).toBe(1);
  });
});

describe("comparing verdicts", () => {
  const accepted: Verdict = { id: "0", accepted: true, message: "moved 1" };
  const rejected: Verdict = { id: "0", accepted: false, reason: "norm-outlier", message: "norm 9×" };
  test("a swapped verdict names the replica and both verdicts", () => {
    expect(verdictFindings([rejected], [accepted], "redone")).toEqual([
      expect.objectContaining({
        subject: "replica 0 verdict",
        recorded: "rejected (norm-outlier)",
        recomputed: "accepted",
      }),
    ]);
    expect(verdictFindings([accepted], [accepted], "redone")).toEqual([]);
    expect(verdictFindings([accepted], [{ ...accepted, message: "moved 2" }], "redone")[0]?.message).toMatch(
      /worded/,
    );
  });
});
