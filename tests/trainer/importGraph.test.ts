import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repo = resolve(new URL("../../", import.meta.url).pathname);

/** Every module the entry point reaches through static and literal dynamic imports: repo files and packages. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(repo, entry)];
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith(".")) pending.push(resolve(dirname(file), fileName));
      else if (!fileName.startsWith("node:")) packages.add(packageOf(fileName));
    }
  }
  return { files, packages };
}

function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

describe("the trainer's import graph", () => {
  const graph = importGraph("trainer/main.ts");

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
