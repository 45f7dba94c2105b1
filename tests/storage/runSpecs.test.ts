import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { stringify as toYaml } from "yaml";
import { InvalidInputError } from "../../spec/errors.ts";
import { runIdOf } from "../../spec/runSpec.ts";
import { RunSpecMismatchError, runSpecDataUri } from "../../spec/specDocument.ts";
import { publishRunSpec, RunSpecUnreadableError, readRunSpec } from "../../storage/index.ts";
import { tinySpec } from "../orchestration/fixtures.ts";

// Run specs where any worker reads them: published content-addressed, read back verified.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-specs-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("run spec documents", () => {
  test("a store holds the spec's canonical JSON under its run id, whose bytes hash to that id", async () => {
    const spec = tinySpec();
    const runId = runIdOf(spec);
    const uri = await publishRunSpec(spec, { storeUri: pathToFileURL(join(dir, "store")).href });
    expect(uri).toBe(pathToFileURL(join(dir, "store", "specs", `${runId}.json`)).href);
    const bytes = await readFile(join(dir, "store", "specs", `${runId}.json`));
    expect(`0x${createHash("sha256").update(bytes).digest("hex")}`).toBe(runId);
    expect(await readRunSpec(uri, runId, { allowFile: true })).toEqual(spec);
  });

  test("a small spec without a store goes inline; YAML and JSON read alike", async () => {
    const spec = tinySpec();
    const runId = runIdOf(spec);
    expect(await publishRunSpec(spec)).toBe(runSpecDataUri(spec));
    expect(await readRunSpec(runSpecDataUri(spec), runId)).toEqual(spec);
    const yaml = `data:text/yaml,${encodeURIComponent(toYaml(spec))}`;
    expect(await readRunSpec(yaml, runId)).toEqual(spec);
  });

  test("refuses a file:// spec unless allowed, another run's spec, a document that is no spec, and an oversized one, each by name", async () => {
    const spec = tinySpec();
    const runId = runIdOf(spec);
    const file = join(dir, "spec.yaml");
    await writeFile(file, toYaml(spec));
    const fileUri = pathToFileURL(file).href;
    await expect(readRunSpec(fileUri, runId)).rejects.toThrow(/a file:\/\/ spec is on one machine's disk/);
    expect(await readRunSpec(fileUri, runId, { allowFile: true })).toEqual(spec);

    const other = runSpecDataUri(tinySpec({ name: "another run" }));
    await expect(readRunSpec(other, runId)).rejects.toThrow(RunSpecMismatchError);
    const notSpec = `data:application/json;base64,${Buffer.from('{"name":"x"}').toString("base64")}`;
    await expect(readRunSpec(notSpec, runId)).rejects.toThrow(InvalidInputError);
    const huge = join(dir, "huge.json");
    await writeFile(huge, " ".repeat(70 * 1024));
    await expect(readRunSpec(pathToFileURL(huge).href, runId, { allowFile: true })).rejects.toThrow(
      /is 71680 bytes, more than the 65536 allowed/,
    );
    await expect(readRunSpec("https://example.org/spec.json", runId)).rejects.toThrow(
      /a spec URI is data:, s3:\/\/ or \(when allowed\) file:\/\//,
    );
  });

  test("a store that does not have the document is unreadable (retried), not invalid", async () => {
    const missing = pathToFileURL(join(dir, "store", "specs", "absent.json")).href;
    await expect(readRunSpec(missing, runIdOf(tinySpec()), { allowFile: true })).rejects.toThrow(
      RunSpecUnreadableError,
    );
  });
});
