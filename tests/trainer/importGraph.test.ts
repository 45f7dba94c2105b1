import { relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { importGraph } from "../../images/importGraph.ts";
import { TRAINER_PROGRAMS } from "../../images/recipes.ts";

const repo = resolve(new URL("../../", import.meta.url).pathname);

describe("the trainer image's import graph (the trainer and the evaluator)", () => {
  const graph = importGraph(repo, TRAINER_PROGRAMS);

  it("starts from both programs pods run", () => {
    expect(TRAINER_PROGRAMS).toEqual(["trainer/main.ts", "trainer/evaluate.ts"]);
    const files = [...graph.files].map((f) => relative(repo, f));
    expect(files).toEqual(expect.arrayContaining(["trainer/evaluate.ts", "model/replicaScores.ts"]));
  });

  it("holds no chain, Temporal or Kubernetes client code", () => {
    const forbiddenPackages = [...graph.packages].filter((p) =>
      /^(viem|@aragon\/|@temporalio\/|@kubernetes\/|ethers|prom-client)/.test(p),
    );
    expect(forbiddenPackages).toEqual([]);
  });

  it("reaches only the folders the trainer may import", () => {
    const allowed = new Set(["checkpoints", "datasets", "model", "spec", "storage", "trainer"]);
    const folders = new Set([...graph.files].map((f) => relative(repo, f).split("/")[0]!));
    expect([...folders].filter((f) => !allowed.has(f))).toEqual([]);
    expect(folders).toContain("model");
  });
});
