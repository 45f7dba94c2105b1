import { describe, expect, test } from "vitest";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import { parseRunSpec, RunSpec, runIdOf } from "./runSpec.ts";

const base = {
  ...tinySpec(),
  name: "sized",
  image: `registry.example/daotrain/trainer@sha256:${"a".repeat(64)}`,
};

describe("a run spec's replica resources and GPU product", () => {
  test("are optional, so that a spec without them keeps its id, and filled with defaults when given in part", () => {
    const plain = parseRunSpec(base);
    expect(plain.resources).toBeUndefined();
    expect(runIdOf(plain)).toBe(runIdOf(RunSpec.parse(base)));
    expect(parseRunSpec({ ...base, resources: { memory: "8Gi" } }).resources).toEqual({
      cpu: "1",
      memory: "8Gi",
      ephemeralStorage: "20Gi",
    });
    expect(parseRunSpec({ ...base, gpuProduct: "NVIDIA-H100-80GB-HBM3" }).gpuProduct).toBe(
      "NVIDIA-H100-80GB-HBM3",
    );
  });

  test("are refused with the field named when they are not quantities, out of bounds, or not a label value", () => {
    expect(() => parseRunSpec({ ...base, resources: { cpu: "two" } })).toThrow(
      /resources\.cpu: must be a CPU quantity/,
    );
    expect(() => parseRunSpec({ ...base, resources: { cpu: "100000" } })).toThrow(/resources\.cpu/);
    expect(() => parseRunSpec({ ...base, resources: { memory: "1Ki" } })).toThrow(
      /resources\.memory: .*from 256Mi/,
    );
    expect(() => parseRunSpec({ ...base, resources: { ephemeralStorage: "1Ei" } })).toThrow(
      /resources\.ephemeralStorage/,
    );
    expect(() => parseRunSpec({ ...base, resources: { gpus: 2 } })).toThrow(/resources/);
    expect(() => parseRunSpec({ ...base, gpuProduct: "H100 80GB" })).toThrow(
      /gpuProduct: must be a GPU product/,
    );
  });
});
