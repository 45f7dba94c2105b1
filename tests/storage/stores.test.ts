import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckpointStore,
  InvalidKeyError,
  ObjectNotFoundError,
  openStore,
  putDirectory,
  StoreUnavailableError,
} from "../../storage/index.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";

const MiB = 1024 * 1024;
// Three 5 MiB parts and a short last one, so multipart upload and ranged download both engage.
const objectBytes = 17 * MiB + 123;

let server: S3Server;
let work: string;
let source: string;
let data: Buffer;

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket("checkpoints");
  work = await mkdtemp(join(tmpdir(), "daotrain-stores-"));
  data = randomBytes(objectBytes);
  source = join(work, "source.bin");
  await writeFile(source, data);
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const kinds = [
  { kind: "local directory", open: () => openStore(`file://${join(work, "store")}`) },
  {
    kind: "S3 (versitygw)",
    open: () => openStore("s3://checkpoints/public", { s3: { ...server.storeOptions, partBytes: 5 * MiB } }),
  },
];

describe.each(kinds)("$kind store", ({ kind, open }) => {
  let store: CheckpointStore;
  const target = () => join(work, `${kind.replace(/\W/g, "")}.bin`);
  beforeAll(() => {
    store = open();
  });

  it("returns the same bytes it stored, through multipart upload and parallel ranged download", async () => {
    const uploaded: number[] = [];
    await store.putFile("runs/a/round-1/model.safetensors", source, { onBytes: (n) => uploaded.push(n) });
    expect(uploaded.reduce((a, b) => a + b, 0)).toBe(objectBytes);
    expect(await store.stat("runs/a/round-1/model.safetensors")).toEqual({
      key: "runs/a/round-1/model.safetensors",
      bytes: objectBytes,
    });

    await rm(target(), { force: true });
    const result = await store.downloadToFile("runs/a/round-1/model.safetensors", target());
    expect(result.resumedFrom).toBe(0);
    expect((await readFile(target())).equals(data)).toBe(true);
  });

  it("resumes a partial download by fetching only the missing bytes", async () => {
    const kept = 6 * MiB + 7;
    await writeFile(target(), data.subarray(0, kept));
    let fetched = 0;
    const result = await store.downloadToFile("runs/a/round-1/model.safetensors", target(), {
      onBytes: (n) => {
        fetched += n;
      },
    });
    expect(result.resumedFrom).toBe(kept);
    expect(fetched).toBe(objectBytes - kept);
    expect((await readFile(target())).equals(data)).toBe(true);
  });

  it("starts over when the partial file is longer than the object", async () => {
    await writeFile(target(), Buffer.concat([data, Buffer.from("extra")]));
    const result = await store.downloadToFile("runs/a/round-1/model.safetensors", target());
    expect(result.resumedFrom).toBe(0);
    expect((await stat(target())).size).toBe(objectBytes);
  });

  it("lists objects under a prefix and uploads a checkpoint directory manifest last", async () => {
    const checkpoint = join(work, `${kind.replace(/\W/g, "")}-ckpt`);
    await rm(checkpoint, { recursive: true, force: true });
    await mkdir(checkpoint, { recursive: true });
    await writeFile(join(checkpoint, "manifest.json"), '{"format":"daotrain-checkpoint/1"}');
    await writeFile(join(checkpoint, "model.safetensors"), "weights");
    const uploaded = await putDirectory(store, checkpoint, "runs/b/round-2");
    expect(uploaded.map((object) => object.key)).toEqual([
      "runs/b/round-2/model.safetensors",
      "runs/b/round-2/manifest.json",
    ]);
    expect((await store.list("runs/b/")).map((object) => object.key)).toEqual([
      "runs/b/round-2/manifest.json",
      "runs/b/round-2/model.safetensors",
    ]);
    expect(Buffer.from(await store.getBytes("runs/b/round-2/manifest.json")).toString()).toContain(
      "checkpoint",
    );
  });

  it("says which object is missing, and refuses keys that would leave the store", async () => {
    expect(await store.stat("runs/none/manifest.json")).toBeUndefined();
    await expect(store.getBytes("runs/none/manifest.json")).rejects.toThrow(ObjectNotFoundError);
    await expect(store.downloadToFile("runs/none/x", target())).rejects.toThrow(/runs\/none\/x/);
    await expect(store.putBytes("../escape", Buffer.from("x"))).rejects.toThrow(InvalidKeyError);
    await expect(store.stat("runs//a")).rejects.toThrow(InvalidKeyError);
  });

  it("deletes an object", async () => {
    await store.putBytes("runs/c/gone", Buffer.from("x"));
    await store.delete("runs/c/gone");
    expect(await store.stat("runs/c/gone")).toBeUndefined();
  });
});

describe("S3 store against a server that has stopped", () => {
  it("fails with StoreUnavailableError naming the object after its retries", async () => {
    const lonely = await startS3Server();
    const store = openStore("s3://checkpoints", {
      s3: { ...lonely.storeOptions, retry: { attempts: 2, initialDelayMs: 10 } },
    });
    await lonely.stop();
    const failure = store.stat("runs/a/manifest.json");
    await expect(failure).rejects.toThrow(StoreUnavailableError);
    await expect(failure).rejects.toThrow("s3://checkpoints/runs/a/manifest.json");
    await expect(store.list()).rejects.toThrow(StoreUnavailableError);
  });
});

describe("S3 store when the server restarts mid-transfer", () => {
  it("retries the interrupted parts and completes the download with the same bytes", async () => {
    const store = openStore("s3://checkpoints/flaky", {
      s3: {
        ...server.storeOptions,
        partBytes: 5 * MiB,
        concurrency: 2,
        retry: { attempts: 8, initialDelayMs: 100 },
      },
    });
    await store.putFile("model.safetensors", source);
    const target = join(work, "restarted.bin");
    const before = server.process.pid;
    let restart: Promise<void> | undefined;
    const result = await store.downloadToFile("model.safetensors", target, {
      onBytes: () => {
        restart ??= server.restart(300);
      },
    });
    await restart;
    expect(server.process.pid).not.toBe(before);
    expect(result.bytes).toBe(objectBytes);
    expect((await readFile(target)).equals(data)).toBe(true);
  });
});
