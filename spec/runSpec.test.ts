import { describe, expect, test } from "vitest";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import { compressionOf, parseRunSpec, RunSpec, runIdOf } from "./runSpec.ts";

/** The test fixture's spec, which has no `outer.compression`. */
const writtenBeforeTheOption = tinySpec();
const withCompression = (compression: unknown) =>
  parseRunSpec({ ...writtenBeforeTheOption, outer: { ...writtenBeforeTheOption.outer, compression } });

describe("outer.compression", () => {
  test("keeps the run id of a spec written before the option existed when it is absent or `none`", () => {
    const absent = parseRunSpec(writtenBeforeTheOption);
    // The id of this spec as main computed it before outer.compression existed (at 54c1737).
    expect(runIdOf(absent)).toBe("0xe59750e272ac0e29fc6b605f76188261c8ff469664440ed37a6ae7b2cea05c6a");
    expect(runIdOf(withCompression("none"))).toBe(runIdOf(absent));
    expect(compressionOf(absent)).toBe("none");
    expect(compressionOf(withCompression("none"))).toBe("none");
  });

  test("gives an int8 run an id of its own, and survives a round trip through its canonical JSON", () => {
    const int8 = withCompression("int8");
    expect(compressionOf(int8)).toBe("int8");
    expect(runIdOf(int8)).not.toBe(runIdOf(parseRunSpec(writtenBeforeTheOption)));
    expect(runIdOf(parseRunSpec(JSON.parse(JSON.stringify(int8))))).toBe(runIdOf(int8));
  });

  test("refuses any other value, naming the field", () => {
    expect(() => withCompression("int4")).toThrow(/outer\.compression/);
  });
});

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
