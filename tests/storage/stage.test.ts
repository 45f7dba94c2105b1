import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckpointManifest, verifyCheckpoint } from "../../checkpoints/index.ts";
import {
  openStore,
  putDirectory,
  RootMismatchError,
  ShardCorruptError,
  stageDirectory,
} from "../../storage/index.ts";
import { randomRoot, writeTestCheckpoint } from "../download/fixtures.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";

// Staging is how trainers and the worker read checkpoints and datasets kept in a bucket: the copy
// must be whole and verified before anyone opens it, and a second call must not fetch it again.

let server: S3Server;
let work: string;
let source: { dir: string; manifest: CheckpointManifest };

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket("runs");
  work = await mkdtemp(join(tmpdir(), "daotrain-stage-"));
  source = await writeTestCheckpoint(work, randomRoot(), 1, 2);
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function uploaded(prefix: string): Promise<string> {
  const uri = `s3://runs/${prefix}`;
  await putDirectory(openStore(uri, { s3: server.storeOptions }), source.dir, "");
  return uri;
}

describe("stageDirectory", () => {
  it("uses a local directory where it is", async () => {
    const uri = pathToFileURL(source.dir).href;
    expect(await stageDirectory({ uri, cacheDir: join(work, "unused") })).toBe(source.dir);
  });

  it("fetches a checkpoint from a bucket, verified, by its directory or manifest URI, and serves the copy again without the store", async () => {
    const uri = await uploaded("whole");
    const cacheDir = join(work, "cache-whole");
    const { root } = source.manifest;
    const staged = await stageDirectory({ uri, root, cacheDir, store: { s3: server.storeOptions } });
    expect(staged).toBe(join(cacheDir, root.slice(2)));
    expect((await verifyCheckpoint(staged, root)).problems).toEqual([]);
    const byManifest = await stageDirectory({
      uri: `${uri}/manifest.json`,
      cacheDir,
      store: { s3: server.storeOptions },
    });
    expect(byManifest).toBe(staged);

    await server.process.stop();
    try {
      expect(await stageDirectory({ uri, root, cacheDir, store: { s3: server.storeOptions } })).toBe(staged);
    } finally {
      await server.restart();
    }
  });

  it("fetches only the shards a selection picks, checked against the root, as a copy of its own", async () => {
    const uri = await uploaded("selected");
    const { root, shards } = source.manifest;
    const cacheDir = join(work, "cache-selected");
    const options = { uri, root, cacheDir, store: { s3: server.storeOptions } };
    // A shard the selection leaves out may even be bad: it is never fetched.
    await writeFile(
      join(server.dataDir, "runs", "selected", shards[0]!.path),
      Buffer.alloc(shards[0]!.bytes, 1),
    );
    const staged = await stageDirectory({ ...options, select: (_, index) => index === 1 });
    expect((await readdir(staged)).sort()).toEqual([shards[1]!.path, "manifest.json"].sort());
    expect(staged).not.toBe(join(cacheDir, root.slice(2)));
    const manifestOnly = await stageDirectory({ ...options, select: () => false });
    expect(await readdir(manifestOnly)).toEqual(["manifest.json"]);
  });

  it("refuses a manifest whose root is not the one expected", async () => {
    const uri = await uploaded("other-root");
    const cacheDir = join(work, "cache-root");
    const staging = stageDirectory({ uri, root: randomRoot(), cacheDir, store: { s3: server.storeOptions } });
    await expect(staging).rejects.toBeInstanceOf(RootMismatchError);
  });

  it("refuses a shard tampered with in the store, naming it, and keeps nothing", async () => {
    const uri = await uploaded("tampered");
    const shard = source.manifest.shards[1]!;
    const flipped = Buffer.alloc(shard.bytes, 7);
    await writeFile(join(server.dataDir, "runs", "tampered", shard.path), flipped);
    const cacheDir = join(work, "cache-tampered");
    const staging = stageDirectory({
      uri,
      root: source.manifest.root,
      cacheDir,
      store: { s3: server.storeOptions },
    });
    await expect(staging).rejects.toBeInstanceOf(ShardCorruptError);
    await expect(staging).rejects.toThrow(shard.path);
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
