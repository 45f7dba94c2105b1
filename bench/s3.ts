// S3 checkpoint round trip against the real S3 server (versitygw), beside a plain file copy of
// the same checkpoint measured in the same run.
//
//   node bench/s3.ts [--gib 1] [--shards 4]
//
// Needs `bootstrap/bootstrap.sh --only versitygw` and `source scripts/env.sh`. The server, the
// checkpoint and the copies all live on this machine's disk, so the ratios show what the S3 path
// (HTTP, signing, multipart, ranged reads) costs over the disk itself.
import { randomFillSync } from "node:crypto";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CheckpointManifest, floatTensor, NO_PARENT, writeCheckpoint } from "../checkpoints/index.ts";
import { downloadCheckpoint } from "../download/index.ts";
import { openStore, putDirectory } from "../storage/index.ts";
import { startS3Server } from "../tests/harness/s3.ts";

const { values } = parseArgs({
  options: { gib: { type: "string", default: "1" }, shards: { type: "string", default: "4" } },
});
const totalBytes = Math.round(Number(values.gib) * 1024 ** 3);
const shardCount = Number(values.shards);
const MiB = 1024 * 1024;

async function timed<T>(what: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await what();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, value };
}

async function writeBenchCheckpoint(dir: string): Promise<CheckpointManifest> {
  const tensors: Record<string, ReturnType<typeof floatTensor>> = {};
  const floats = Math.floor(totalBytes / shardCount / 4 / 1024) * 1024;
  for (let i = 0; i < shardCount; i++) {
    // Incompressible bytes: no layer of the path can shortcut them.
    const array = new Float32Array(floats);
    randomFillSync(array);
    tensors[`layer${i}.weight`] = floatTensor([floats / 1024, 1024], array);
  }
  return await writeCheckpoint(
    dir,
    tensors,
    {
      runId: `0x${"be".repeat(32)}`,
      round: 1,
      parentRoot: NO_PARENT,
      metrics: { loss: null, valLoss: null, tokens: 0, steps: 0 },
    },
    { maxShardBytes: floats * 4 + MiB },
  );
}

const work = await mkdtemp(join(tmpdir(), "daotrain-bench-s3-"));
const server = await startS3Server();
try {
  await server.createBucket("bench");
  const source = join(work, "checkpoint");
  const manifest = await writeBenchCheckpoint(source);
  const bytes = manifest.shards.reduce((sum, shard) => sum + shard.bytes, 0);

  const copyDir = join(work, "copy");
  await mkdir(copyDir);
  const copy = await timed(() =>
    Promise.all(
      manifest.shards.map((shard) => copyFile(join(source, shard.path), join(copyDir, shard.path))),
    ),
  );
  await rm(copyDir, { recursive: true });

  const store = openStore("s3://bench/daotrain", { s3: server.storeOptions });
  const upload = await timed(() => putDirectory(store, source, "runs/bench/round-1"));

  const out = join(work, "downloaded");
  const download = await timed(() =>
    downloadCheckpoint({
      checkpoint: {
        runId: manifest.runId,
        round: manifest.round,
        root: manifest.root,
        manifestUri: store.uriOf("runs/bench/round-1/manifest.json"),
        released: true,
      },
      releasedRounds: async () => [manifest.round],
      out,
      store: { s3: server.storeOptions },
    }),
  );
  const rawDir = join(work, "raw");
  await mkdir(rawDir);
  const raw = await timed(() =>
    Promise.all(
      manifest.shards.map((shard) =>
        store.downloadToFile(`runs/bench/round-1/${shard.path}`, join(rawDir, shard.path)),
      ),
    ),
  );

  const rate = (seconds: number) => bytes / MiB / seconds;
  const baseline = rate(copy.seconds);
  const rows: Array<[string, number, number]> = [
    ["file copy (baseline, copyFile)", copy.seconds, rate(copy.seconds)],
    ["S3 upload (multipart)", upload.seconds, rate(upload.seconds)],
    ["S3 download (parallel ranged parts)", raw.seconds, rate(raw.seconds)],
    ["S3 verified download (fetch + sha256 + root)", download.seconds, rate(download.seconds)],
  ];
  process.stdout.write(
    `S3 checkpoint round trip: ${(bytes / 1024 ** 3).toFixed(2)} GiB in ${manifest.shards.length} shards, versitygw ${server.endpoint}\n\n`,
  );
  process.stdout.write(
    `${"what".padEnd(46)} ${"seconds".padStart(8)} ${"MiB/s".padStart(9)} ${"vs copy".padStart(8)}\n`,
  );
  for (const [what, seconds, mibs] of rows) {
    process.stdout.write(
      `${what.padEnd(46)} ${seconds.toFixed(2).padStart(8)} ${mibs.toFixed(0).padStart(9)} ${(mibs / baseline).toFixed(2).padStart(8)}\n`,
    );
  }
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
