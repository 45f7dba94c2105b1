import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { merkleRoot } from "../../checkpoints/merkle.ts";
import { register } from "../../cli/commands/dataset.ts";
import { runProgram, withUsageErrors } from "../../cli/program.ts";
import {
  assignShards,
  byteTokenizer,
  type DatasetManifest,
  openDataset,
  packDataset,
} from "../../datasets/index.ts";

const corpus = new URL("../../datasets/corpus/", import.meta.url).pathname;

let dir: string;
let manifest: DatasetManifest;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-datasets-"));
  manifest = await packDataset(corpus, join(dir, "packed"), { shardTokens: 16_384 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("packDataset", () => {
  it("packs the shipped corpus into fixed-size shards, the last held out, under the Merkle root of their hashes", () => {
    expect(manifest.shards.length).toBeGreaterThanOrEqual(10);
    expect(manifest.shards.every((s) => s.tokens === 16_384 && s.bytes === 2 * 16_384)).toBe(true);
    expect(manifest.shards.at(-1)!.split).toBe("validation");
    expect(manifest.shards.slice(0, -1).every((s) => s.split === "train")).toBe(true);
    expect(manifest.root).toBe(merkleRoot(manifest.shards.map((s) => s.sha256)));
    expect(manifest.sources.map((s) => s.path)).toEqual(["fables.txt"]);
  });

  it("stores the text's bytes as tokens that decode back to the text", async () => {
    const dataset = await openDataset(join(dir, "packed"), manifest.root);
    const first = await dataset.readShard(0);
    const text = await readFile(join(corpus, "fables.txt"));
    expect(byteTokenizer.decode(first)).toBe(text.subarray(0, 16_384).toString("utf8"));
  });

  it("gives the same root every time it packs the same text", async () => {
    const again = await packDataset(join(corpus, "fables.txt"), join(dir, "again"), { shardTokens: 16_384 });
    expect(again.root).toBe(manifest.root);
  });

  it("assigns disjoint training shards to replicas", () => {
    const a = assignShards(manifest, 0, 2);
    const b = assignShards(manifest, 1, 2);
    expect(a.filter((i) => b.includes(i))).toEqual([]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(
      manifest.shards.flatMap((s, i) => (s.split === "train" ? [i] : [])),
    );
  });
});

describe("openDataset", () => {
  it("refuses a dataset whose root is not the approved one", async () => {
    await expect(openDataset(join(dir, "packed"), `0x${"00".repeat(32)}`)).rejects.toThrow(
      /has root 0x[0-9a-f]{64}, expected 0x0000/,
    );
  });

  it("refuses a tampered shard when it is read, naming it", async () => {
    const copy = await packDataset(corpus, join(dir, "tampered"), { shardTokens: 16_384 });
    const shard = join(dir, "tampered", "shard-00002.bin");
    const bytes = await readFile(shard);
    bytes[10] = bytes[10]! ^ 1;
    await writeFile(shard, bytes);
    const dataset = await openDataset(join(dir, "tampered"), copy.root);
    await expect(dataset.readShard(1)).resolves.toHaveLength(16_384);
    await expect(dataset.readShard(2)).rejects.toThrow(
      /shard-00002.bin has sha256 [0-9a-f]{64}, the manifest says/,
    );
  });
});

describe("daotrain dataset pack", () => {
  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const program = new Command("daotrain");
    register(program);
    let stdout = "";
    let stderr = "";
    const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
    const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      const code = await runProgram(withUsageErrors(program), ["node", "daotrain", ...args]);
      return { code, stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  it("prints the manifest with --json", async () => {
    const result = await cli(
      "dataset",
      "pack",
      corpus,
      "--out",
      join(dir, "cli"),
      "--shard-tokens",
      "16384",
      "--json",
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ dir: join(dir, "cli"), root: manifest.root });
  });

  it("exits 2 naming a wrong argument", async () => {
    const result = await cli("dataset", "pack", corpus, "--out", join(dir, "x"), "--shard-tokens", "0");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /--shard-tokens must be a whole number ≥ 1, got 0 \(usage: daotrain dataset pack/,
    );
  });

  it("exits 1 saying what to do when the text is too small for the shards", async () => {
    const result = await cli("dataset", "pack", corpus, "--out", join(dir, "y"), "--shard-tokens", "200000");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/too few for 2 shards of 200000 tokens; use a smaller --shard-tokens/);
  });
});
