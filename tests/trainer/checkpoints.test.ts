import { createHash } from "node:crypto";
import { mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckpointFields,
  CheckpointVerificationError,
  DirectoryExistsError,
  floatTensor,
  hashCheckpoint,
  hashFiles,
  merkleRoot,
  NO_PARENT,
  readCheckpoint,
  readSafetensorsHeader,
  type Tensor,
  toFloat32,
  verifyCheckpoint,
  writeCheckpoint,
} from "../../checkpoints/index.ts";

const fields: CheckpointFields = {
  runId: `0x${"ab".repeat(32)}`,
  round: 3,
  parentRoot: NO_PARENT,
  metrics: { loss: 2.5, valLoss: 2.75, tokens: 1024, steps: 50 },
  metadata: { format: "pt", note: "test" },
};

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + (i % 7)));
}

function sampleTensors(): Record<string, Tensor> {
  return {
    "a.weight": floatTensor([3, 5], values(15, 1)),
    "b.half": floatTensor([4, 2], values(8, 2), "F16"),
    "c.brain": floatTensor([7], values(7, 3), "BF16"),
    "d.big": floatTensor([64, 64], values(4096, 4)),
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-checkpoints-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("merkleRoot", () => {
  // Vectors computed independently with Python's hashlib from RFC 6962's definition.
  const shards = [0, 1, 2, 3, 4].map((i) => createHash("sha256").update(`shard${i}`).digest("hex"));
  it("matches RFC 6962's Merkle Tree Hash over the shard digests", () => {
    expect(merkleRoot(shards.slice(0, 1))).toBe(
      "0xf5116c81448709f5df143f93f01e9a5738d7112c752373b77106ee913ded9ca8",
    );
    expect(merkleRoot(shards.slice(0, 2))).toBe(
      "0x2cf73efd5f43319dbaaee984ade8518eadee6ecbd0ae3c88711a8d5ea4278f48",
    );
    expect(merkleRoot(shards.slice(0, 3))).toBe(
      "0x6071fa6d984ce4d9eb602c61b2448d2b43dccfe128356912e52bfbf81e91c75b",
    );
    expect(merkleRoot(shards)).toBe("0x4405595b8bd3a640cff9fee8a6c3866ce060b535951ba9a7d6a5d1982ef669a6");
  });
  it("gives a lone shard a root that is not its own hash, and depends on order", () => {
    expect(merkleRoot([shards[0]!])).not.toBe(`0x${shards[0]}`);
    expect(merkleRoot([shards[1]!, shards[0]!])).not.toBe(merkleRoot(shards.slice(0, 2)));
    expect(() => merkleRoot([])).toThrow(/at least one shard/);
  });
});

describe("writeCheckpoint and readCheckpoint", () => {
  it("round-trips F32, F16 and BF16 tensors and their metadata", async () => {
    const out = join(dir, "roundtrip");
    const tensors = sampleTensors();
    const manifest = await writeCheckpoint(out, tensors, fields);
    expect(manifest.shards.map((s) => s.path)).toEqual(["model.safetensors"]);
    const back = await readCheckpoint(out, { expectedRoot: manifest.root });
    expect(back.metadata).toEqual(fields.metadata);
    expect(back.manifest).toEqual(manifest);
    expect(toFloat32(back.tensors["a.weight"]!)).toEqual(values(15, 1));
    expect(back.tensors["b.half"]!.dtype).toBe("F16");
    const half = toFloat32(back.tensors["b.half"]!);
    for (const [i, v] of values(8, 2).entries()) expect(half[i]).toBeCloseTo(v, 2);
    const brain = toFloat32(back.tensors["c.brain"]!);
    for (const [i, v] of values(7, 3).entries())
      expect(Math.abs(brain[i]! - v)).toBeLessThan(Math.abs(v) / 128 + 1e-6);
  });

  it("writes headers padded to 8 bytes with contiguous data offsets", async () => {
    const header = await readSafetensorsHeader(join(dir, "roundtrip", "model.safetensors"));
    expect(header.dataStart % 8).toBe(0);
    const spans = [...header.tensors.values()].map((t) => t.offsets).sort((a, b) => a[0] - b[0]);
    expect(spans[0]![0]).toBe(0);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBe(spans[i - 1]![1]);
  });

  it("gives equal tensors an equal root whatever order they were given in", async () => {
    const t = sampleTensors();
    const reversed = Object.fromEntries(Object.entries(t).reverse());
    const a = await writeCheckpoint(join(dir, "order-a"), t, fields);
    const b = await writeCheckpoint(join(dir, "order-b"), reversed, fields);
    expect(a.root).toBe(b.root);
  });

  it("shards above the size limit into model-0000i-of-0000N files under one root", async () => {
    const out = join(dir, "sharded");
    const manifest = await writeCheckpoint(out, sampleTensors(), fields, { maxShardBytes: 1024 });
    expect(manifest.shards.map((s) => s.path)).toEqual([
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    ]);
    expect(manifest.root).toBe(merkleRoot(manifest.shards.map((s) => s.sha256)));
    const back = await readCheckpoint(out);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(sampleTensors()).sort());
    expect((await hashCheckpoint(out)).root).toBe(manifest.root);
  });

  it("is idempotent for the same checkpoint and refuses a different one over it", async () => {
    const out = join(dir, "idempotent");
    const first = await writeCheckpoint(out, sampleTensors(), fields);
    const again = await writeCheckpoint(out, sampleTensors(), fields);
    expect(again.root).toBe(first.root);
    const other = { ...sampleTensors(), extra: floatTensor([1], Float32Array.of(1)) };
    await expect(writeCheckpoint(out, other, fields)).rejects.toThrow(DirectoryExistsError);
    expect((await readdir(dir)).filter((name) => name.includes(".partial."))).toEqual([]);
  });
});

describe("verifyCheckpoint", () => {
  it("recomputes every shard hash and the root, and names the tampered shard", async () => {
    const out = join(dir, "tamper");
    const manifest = await writeCheckpoint(out, sampleTensors(), fields, { maxShardBytes: 1024 });
    expect((await verifyCheckpoint(out, manifest.root)).ok).toBe(true);

    const file = join(out, "model-00002-of-00002.safetensors");
    const handle = await open(file, "r+");
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 200);
    await handle.write(Buffer.of(byte[0]! ^ 0xff), 0, 1, 200);
    await handle.close();

    const result = await verifyCheckpoint(out, manifest.root);
    expect(result.ok).toBe(false);
    expect(result.shards.map((s) => s.ok)).toEqual([true, false]);
    expect(result.shards[1]!.problem).toMatch(
      /model-00002-of-00002.safetensors: sha256 [0-9a-f]{64} does not match/,
    );
    expect(result.problems.some((p) => p.includes(`does not match the expected root ${manifest.root}`))).toBe(
      true,
    );
    await expect(readCheckpoint(out)).rejects.toThrow(CheckpointVerificationError);
  });

  it("refuses a checkpoint whose root is not the expected one", async () => {
    const out = join(dir, "roundtrip");
    const wrong = `0x${"11".repeat(32)}` as const;
    const result = await verifyCheckpoint(out, wrong);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.stringContaining(`does not match the expected root ${wrong}`)]);
  });

  it("reports a manifest that lies about the root", async () => {
    const out = join(dir, "lying");
    await writeCheckpoint(out, sampleTensors(), fields);
    const manifestFile = join(out, "manifest.json");
    const manifest = JSON.parse(await readFile(manifestFile, "utf8"));
    manifest.root = `0x${"22".repeat(32)}`;
    await writeFile(manifestFile, JSON.stringify(manifest));
    const result = await verifyCheckpoint(out);
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatch(/does not match the manifest's root 0x2222/);
  });

  it("reports an unreadable checkpoint instead of throwing", async () => {
    const result = await verifyCheckpoint(join(dir, "missing"));
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatch(/manifest.json/);
  });
});

describe("hashFiles", () => {
  const MiB = 1 << 20;
  /** Sizes around the threads' 1 MiB read: empty, short, exact, and a ragged tail. */
  async function filesOfSizes(sizes: readonly number[]): Promise<string[]> {
    const folder = await mkdtemp(join(dir, "hash-"));
    return Promise.all(
      sizes.map(async (size, i) => {
        const path = join(folder, `f${i}`);
        await writeFile(path, Buffer.from(values(Math.ceil(size / 4), i).buffer).subarray(0, size));
        return path;
      }),
    );
  }

  it("gives the same digests on the hashing threads as on the calling thread and as sha256 of the bytes", async () => {
    const files = await filesOfSizes([0, 3, MiB, 2 * MiB + 7, 5 * MiB - 1]);
    const here = await hashFiles(files);
    const threaded = await hashFiles(files, { threadThresholdBytes: 0 });
    expect(threaded).toEqual(here);
    for (const h of here) {
      const bytes = await readFile(h.path);
      expect(h.bytes).toBe(bytes.length);
      expect(h.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
  });

  it("serves calls made at once, and a file that cannot be read fails only its own call", async () => {
    const files = await filesOfSizes([3 * MiB, MiB + 1, 2 * MiB]);
    const missing = join(dir, "no-such-shard");
    const threaded = { threadThresholdBytes: 0 };
    const [forward, backward, broken] = await Promise.all([
      hashFiles(files, threaded),
      hashFiles([...files].reverse(), threaded),
      hashFiles([files[0]!, missing], threaded).catch((error: Error) => error),
    ]);
    expect(backward).toEqual([...forward].reverse());
    expect(broken).toBeInstanceOf(Error);
    expect((broken as Error).message).toMatch(/no-such-shard/);
    expect(await hashFiles(files, threaded)).toEqual(forward);
  });
});
