import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CheckpointManifest } from "../../checkpoints/index.ts";
import {
  type ChainCheckpoint,
  CheckpointNotReleasedError,
  DownloadExitCode,
  downloadCheckpoint,
  ManifestInvalidError,
  OutputExistsError,
  RootMismatchError,
  ShardCorruptError,
  stagingDirectory,
} from "../../download/index.ts";
import type { Bytes32 } from "../../spec/runSpec.ts";
import { type CheckpointStore, type OpenStoreOptions, openStore, putDirectory } from "../../storage/index.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { MiB, randomRoot, writeTestCheckpoint } from "./fixtures.ts";

const run = promisify(execFile);
const runId: Bytes32 = randomRoot();
const round = 3;

let server: S3Server;
let work: string;
let source: { dir: string; manifest: CheckpointManifest };

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket("public");
  work = await mkdtemp(join(tmpdir(), "daotrain-download-"));
  source = await writeTestCheckpoint(work, runId, round);
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

interface StoreUnderTest {
  kind: string;
  uri: () => string;
  options: () => OpenStoreOptions;
  /** The file that holds an object's bytes on the server's disk, to tamper with. */
  backingFile: (key: string) => string;
}

const stores: StoreUnderTest[] = [
  {
    kind: "local directory",
    uri: () => `file://${join(work, "store")}`,
    options: () => ({}),
    backingFile: (key) => join(work, "store", key),
  },
  {
    kind: "S3 (versitygw)",
    uri: () => "s3://public/daotrain",
    options: () => ({ s3: { ...server.storeOptions, partBytes: 5 * MiB, concurrency: 2 } }),
    backingFile: (key) => join(server.dataDir, "public", "daotrain", key),
  },
];

describe.each(stores)("download from a $kind store", (target) => {
  let store: CheckpointStore;
  let prefix: string;
  let out: string;
  let chain: ChainCheckpoint;
  const releasedRounds = async () => [1, 2];

  beforeEach(async () => {
    // Each test gets its own published copy, so tampering in one cannot leak into another.
    store = openStore(target.uri(), target.options());
    prefix = `runs/${runId.slice(2, 10)}/${Math.random().toString(36).slice(2)}`;
    await putDirectory(store, source.dir, prefix);
    out = join(work, `out-${Math.random().toString(36).slice(2)}`);
    chain = {
      runId,
      round,
      root: source.manifest.root,
      manifestUri: store.uriOf(`${prefix}/manifest.json`),
      released: true,
    };
  });

  const download = (overrides: Partial<Parameters<typeof downloadCheckpoint>[0]> = {}) =>
    downloadCheckpoint({ checkpoint: chain, releasedRounds, out, store: target.options(), ...overrides });

  async function expectNothingWritten(): Promise<void> {
    expect(await exists(out)).toBe(false);
  }

  it("downloads a released checkpoint, verifies it, and writes a SHA256SUMS that sha256sum -c accepts", async () => {
    const result = await download();
    expect(result.root).toBe(source.manifest.root);
    expect(result.shards.map((s) => s.path)).toEqual(source.manifest.shards.map((s) => s.path));
    expect((await readdir(out)).sort()).toEqual(
      ["SHA256SUMS", "manifest.json", ...source.manifest.shards.map((s) => s.path)].sort(),
    );
    for (const shard of source.manifest.shards) {
      expect(
        (await readFile(join(out, shard.path))).equals(await readFile(join(source.dir, shard.path))),
      ).toBe(true);
    }
    const { stdout } = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
    expect(stdout.trim().split("\n")).toHaveLength(source.manifest.shards.length + 1);
    expect(stdout).not.toContain("FAILED");
    expect(await exists(stagingDirectory(out))).toBe(false);
  });

  it("refuses an unreleased checkpoint, lists the released rounds, and writes nothing", async () => {
    const failure = download({ checkpoint: { ...chain, released: false } });
    await expect(failure).rejects.toThrow(CheckpointNotReleasedError);
    await expect(failure).rejects.toThrow(/round 3 is not released.*released rounds: 1, 2/);
    await expectNothingWritten();
  });

  it("refuses a shard with one byte flipped in the store, naming the shard, and leaves nothing behind", async () => {
    const shard = source.manifest.shards[1]!;
    const file = await open(target.backingFile(`${prefix}/${shard.path}`), "r+");
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, 4242);
    byte[0] = byte[0]! ^ 0x01;
    await file.write(byte, 0, 1, 4242);
    await file.close();

    const failure = download();
    await expect(failure).rejects.toThrow(ShardCorruptError);
    await expect(failure).rejects.toThrow(new RegExp(`${shard.path}: sha256 [0-9a-f]{64} does not match`));
    await expectNothingWritten();
    expect(await exists(stagingDirectory(out))).toBe(false);
  });

  it("refuses a truncated shard before fetching it, and leaves nothing behind", async () => {
    const shard = source.manifest.shards[2]!;
    await truncate(target.backingFile(`${prefix}/${shard.path}`), shard.bytes - 1000);
    const failure = download();
    await expect(failure).rejects.toThrow(ShardCorruptError);
    await expect(failure).rejects.toThrow(
      `${shard.path} is truncated: ${shard.bytes - 1000} bytes in the store`,
    );
    await expectNothingWritten();
  });

  it("refuses a manifest whose root differs from the root committed on-chain", async () => {
    const chainRoot = randomRoot();
    const failure = download({ checkpoint: { ...chain, root: chainRoot } });
    await expect(failure).rejects.toThrow(RootMismatchError);
    await expect(failure).rejects.toThrow(`but the chain committed ${chainRoot}`);
    await expectNothingWritten();
  });

  it("refuses a manifest whose shard list was edited to match a tampered shard", async () => {
    const manifestKey = `${prefix}/manifest.json`;
    const edited = structuredClone(source.manifest);
    edited.shards[0]!.sha256 = "0".repeat(64);
    await store.putBytes(manifestKey, Buffer.from(JSON.stringify(edited)));
    await expect(download()).rejects.toThrow(/its shard hashes give root 0x[0-9a-f]{64}, not the committed/);
    await expectNothingWritten();
  });

  it("resumes an interrupted download, fetching only the rest, and verifies it", async () => {
    const interrupt = new AbortController();
    const first = download({
      concurrency: 1,
      signal: interrupt.signal,
      onProgress: (progress) => {
        if (progress.doneBytes > progress.totalBytes * 0.4) interrupt.abort();
      },
    });
    await expect(first).rejects.toThrow(/abort/i);
    await expectNothingWritten();
    expect((await readdir(stagingDirectory(out))).length).toBeGreaterThan(1);

    const result = await download();
    expect(result.resumedBytes).toBeGreaterThan(0.3 * result.totalBytes);
    expect(result.resumedBytes).toBeLessThan(result.totalBytes);
    await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
    expect(await exists(stagingDirectory(out))).toBe(false);
  });

  it("refuses to write into a non-empty output directory", async () => {
    await mkdir(out);
    await writeFile(join(out, "mine.txt"), "keep me");
    const failure = download();
    await expect(failure).rejects.toThrow(OutputExistsError);
    expect(await readdir(out)).toEqual(["mine.txt"]);
  });
});

describe("download of a checkpoint whose chain record names an unusable manifest URI", () => {
  it("refuses it as an invalid manifest and writes nothing", async () => {
    const out = join(work, "bad-uri");
    const failure = downloadCheckpoint({
      checkpoint: {
        runId,
        round,
        root: source.manifest.root,
        manifestUri: "https://example.org/m.json",
        released: true,
      },
      releasedRounds: async () => [round],
      out,
    });
    await expect(failure).rejects.toThrow(ManifestInvalidError);
    await expect(failure).rejects.toThrow(/unsupported scheme https/);
    expect(await exists(out)).toBe(false);
  });
});

describe("download exit codes", () => {
  it("gives each kind of refusal its own exit code", () => {
    expect(new Set(Object.values(DownloadExitCode)).size).toBe(Object.keys(DownloadExitCode).length);
    expect(new CheckpointNotReleasedError(runId, 1, []).exitCode).toBe(DownloadExitCode.notReleased);
    expect(new ShardCorruptError("s3://b", ["x"]).exitCode).toBe(DownloadExitCode.shardCorrupt);
  });
});
