import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { generatedDirectory, renderAll } from "../../dashboards/generate.ts";

describe("dashboards as code", () => {
  it("regenerates byte-identical files to the committed ones, and nothing else is committed there", async () => {
    const rendered = renderAll();
    const committed = (await readdir(generatedDirectory, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => relative(generatedDirectory, join(entry.parentPath, entry.name)))
      .sort();
    expect(committed).toEqual([...rendered.keys()].sort());
    for (const [path, content] of rendered) {
      expect(
        await readFile(join(generatedDirectory, path), "utf8"),
        `${path} is stale: run node dashboards/generate.ts`,
      ).toBe(content);
    }
  });
});
