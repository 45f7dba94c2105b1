// S3 checkpoint round trip against the real S3 server (versitygw), beside a plain file copy of
// the same checkpoint measured in the same run.
//
//   node bench/s3.ts [--gib 1] [--shards 4]
//
// Needs `bootstrap/bootstrap.sh --only versitygw` and `source scripts/env.sh`. The server, the
// checkpoint and the copies all live on this machine's disk, so the ratios show what the S3 path
// (HTTP, signing, multipart, ranged reads) costs over the disk itself.
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CheckpointManifest, floatTensor, NO_PARENT, writeCheckpoint } from "../checkpoints/index.ts";
import { downloadCheckpoint } from "../download/index.ts";
import { openStore, putDirectory, stageDirectory } from "../storage/index.ts";
import { startS3Server } from "../tests/harness/s3.ts";

const { values } = parseArgs({
  options: { gib: { type: "string", default: "1" }, shards: { type: "string", default: "4" } },
});
const totalBytes = Math.round(Number(values.gib) * 1024 ** 3);
const shardCount = Number(values.shards);
const MiB = 1024 * 1024;

/** CPU seconds (user + system) a process has used, from /proc: the server's share of the work. */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Timing {
  seconds: number;
  /** CPU seconds of this process and of the S3 server: meaningful even on a busy machine. */
  clientCpu: number;
  serverCpu: number;
}

async function timed(serverPid: number, what: () => Promise<unknown>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const server = processCpuSeconds(serverPid);
  const started = process.hrtime.bigint();
  await what();
  const used = process.cpuUsage(cpu);
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    clientCpu: (used.user + used.system) / 1e6,
    serverCpu: processCpuSeconds(serverPid) - server,
  };
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
  const pid = server.process.pid;
  const copy = await timed(pid, () =>
    Promise.all(
      manifest.shards.map((shard) => copyFile(join(source, shard.path), join(copyDir, shard.path))),
    ),
  );
  await rm(copyDir, { recursive: true });

  const store = openStore("s3://bench/daotrain", { s3: server.storeOptions });
  const upload = await timed(pid, () => putDirectory(store, source, "runs/bench/round-1"));

  const out = join(work, "downloaded");
  const download = await timed(pid, () =>
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
  const raw = await timed(pid, () =>
    Promise.all(
      manifest.shards.map((shard) =>
        store.downloadToFile(`runs/bench/round-1/${shard.path}`, join(rawDir, shard.path)),
      ),
    ),
  );

  const stage = await timed(pid, () =>
    stageDirectory({
      uri: store.uriOf("runs/bench/round-1"),
      root: manifest.root,
      cacheDir: join(work, "staged"),
      store: { s3: server.storeOptions },
    }),
  );

  const rate = (seconds: number) => bytes / MiB / seconds;
  const baseline = rate(copy.seconds);
  const rows: Array<[string, Timing]> = [
    ["file copy (baseline, copyFile)", copy],
    ["S3 upload (multipart)", upload],
    ["S3 download (parallel ranged parts)", raw],
    ["S3 verified download (fetch + sha256 + root)", download],
    ["stageDirectory (a trainer's or the worker's read)", stage],
  ];
  const [load1] = loadavg();
  const print = (line: string) => process.stdout.write(line);
  print(
    `S3 checkpoint round trip: ${(bytes / 1024 ** 3).toFixed(2)} GiB in ${manifest.shards.length} shards, ` +
      `versitygw at ${server.endpoint}, ${cpus().length} cores, load average ${load1!.toFixed(1)}\n\n`,
  );
  print(
    `${"what".padEnd(50)} ${"seconds".padStart(8)} ${"MiB/s".padStart(7)} ${"vs copy".padStart(8)} ` +
      `${"client CPU s".padStart(13)} ${"server CPU s".padStart(13)}\n`,
  );
  for (const [what, t] of rows) {
    const mibs = rate(t.seconds);
    print(
      `${what.padEnd(50)} ${t.seconds.toFixed(2).padStart(8)} ${mibs.toFixed(0).padStart(7)} ` +
        `${(mibs / baseline).toFixed(2).padStart(8)} ${t.clientCpu.toFixed(2).padStart(13)} ${t.serverCpu.toFixed(2).padStart(13)}\n`,
    );
  }
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
