import { describe, expect, it } from "vitest";
import { SeededRandom } from "../spec/seededRandom.ts";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import { judge, type ReplicaEvidence, type RoundEvidence } from "./verdicts.ts";

// Synthetic evidence shaped like the measured honest rounds (diloco/README.md): pseudo-gradients
// sharing a direction (pairwise cosine ≈ 0.6–0.9) of similar norm, losses improving alike.

const spec = tinySpec({ replicasPerRound: 8 });

const random = new SeededRandom(42);
const SKETCH = 512;
const shared = Float32Array.from({ length: SKETCH }, () => random.normal());
const root = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;

function direction(noise: number, base: Float32Array = shared): Float32Array {
  return Float32Array.from(base, (x) => x + noise * random.normal());
}

/** Scaled so that the sketch stands for a Δ of norm ≈ 1.4 over the model's ≈ 13k parameters. */
function measured(id: string, sketch: Float32Array, loss: { held: number; own: number }, norm = 1.4) {
  return {
    id,
    root: root(Number(id) + 1),
    delta: { norm, maxAbs: 0.02, sketch },
    scores: {
      heldOutLoss: 5.5 - loss.held,
      ownShards: [0],
      ownShardLoss: 5.4 - loss.own,
      ownShardLossOfGlobal: 5.4,
    },
  } satisfies ReplicaEvidence;
}

function round(replicas: ReplicaEvidence[]): RoundEvidence {
  return { globalRoot: root(0), globalMaxAbs: 1, globalHeldOutLoss: 5.5, replicas };
}

const honest = [0, 1, 2, 3].map((i) =>
  measured(String(i), direction(0.8), { held: 0.35 + 0.02 * i, own: 0.36 - 0.01 * i }),
);

describe("verdicts on a round's evidence", () => {
  it("accepts every honest replica, and gives the same verdicts whenever it is asked", () => {
    const verdicts = judge(round(honest), spec);
    expect(verdicts.every((v) => v.accepted)).toBe(true);
    expect(judge(round(honest), spec)).toEqual(verdicts);
  });

  it("rejects free riders by reason: θ unchanged or with tiny noise, noise the size of an honest step, copies of any kind", () => {
    const victim = honest[0]!;
    const riders: ReplicaEvidence[] = [
      measured("10", new Float32Array(SKETCH), { held: 0, own: 0 }, 0),
      measured("11", direction(1e-6, new Float32Array(SKETCH)), { held: 1e-7, own: -1e-7 }, 1e-6),
      measured("12", direction(1, new Float32Array(SKETCH)), { held: -0.05, own: -0.04 }),
      { ...victim, id: "13" },
      { ...victim, id: "14", root: root(14) },
      measured(
        "15",
        Float32Array.from(victim.delta.sketch, (x) => 0.5 * x),
        { held: 0.2, own: 0.2 },
        0.7,
      ),
      measured("16", direction(0.05, victim.delta.sketch), { held: 0.34, own: 0.35 }),
    ];
    const verdicts = judge(round([...honest, ...riders]), spec);
    const reasons = Object.fromEntries(verdicts.map((v) => [v.id, v.accepted ? "accepted" : v.reason]));
    expect(reasons).toEqual({
      "0": "duplicate",
      "1": "accepted",
      "2": "accepted",
      "3": "accepted",
      "10": "no-progress",
      "11": "no-progress",
      "12": "no-progress",
      "13": "duplicate",
      "14": "duplicate",
      "15": "duplicate",
      "16": "duplicate",
    });
    const byId = new Map(verdicts.map((v) => [v.id, v]));
    expect(byId.get("13")).toMatchObject({ message: expect.stringContaining("0 (the same bytes)") });
    expect(byId.get("12")).toMatchObject({ message: expect.stringMatching(/points away from its peers'/) });
  });

  it("rejects a replica whose loss falls far behind its peers', and one that makes the held-out loss worse", () => {
    const lazy = measured("20", direction(0.8), { held: 0.35, own: -0.5 });
    const harmful = measured("21", direction(0.8), { held: -0.6, own: 0.3 });
    const verdicts = judge(round([...honest, lazy, harmful]), spec);
    expect(verdicts.find((v) => v.id === "20")).toMatchObject({
      accepted: false,
      reason: "no-progress",
      message: expect.stringMatching(
        /own-shard loss improved by -0.5000; the round's median replica improved by/,
      ),
    });
    expect(verdicts.find((v) => v.id === "21")).toMatchObject({ accepted: false, reason: "held-out-loss" });
    expect(verdicts.filter((v) => v.accepted)).toHaveLength(4);
  });

  it("rejects a pseudo-gradient no AdamW run can produce, and one ten times the median norm", () => {
    const far = {
      ...measured("30", direction(0.8), { held: 0.3, own: 0.3 }),
      delta: { norm: 1.4, maxAbs: 1, sketch: direction(0.8) },
    };
    const large = measured("31", direction(0.8), { held: 0.3, own: 0.3 }, 20);
    const verdicts = judge(round([...honest, far, large]), spec);
    expect(verdicts.filter((v) => !v.accepted).map((v) => [v.id, !v.accepted && v.reason])).toEqual([
      ["30", "norm-outlier"],
      ["31", "norm-outlier"],
    ]);
  });

  it("keeps a defect found reading the files as the reason", () => {
    const broken: ReplicaEvidence = { id: "40", defect: { reason: "oversized", message: "a 10 GiB shard" } };
    expect(judge(round([...honest, broken]), spec).at(-1)).toEqual({
      id: "40",
      accepted: false,
      reason: "oversized",
      message: "a 10 GiB shard",
    });
  });
});
