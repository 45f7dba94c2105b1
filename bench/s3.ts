// daotrain's S3 transfers against rclone's, on the same versitygw server, the same checkpoint
// bytes, in the same run; a plain file copy of the checkpoint beside them for scale.
//
//   node bench/s3.ts [--gib 1] [--shards 4] [--repeat 3]
//
// Needs `bootstrap/bootstrap.sh --only versitygw,rclone` and `source scripts/env.sh`. Each pair
// (daotrain, rclone) runs back to back, in alternating order, `--repeat` times; the best of each
// is kept, so a burst of load from elsewhere on the machine hurts both or neither.
//   upload             putDirectory (shards in parallel, multipart)  vs  rclone copy dir → bucket
//   download           downloadToFile of every shard                   vs  rclone copy --ignore-checksum
//   verified download  downloadCheckpoint (sha256 of every shard, root) vs  rclone copy, then
//                      rclone checksum sha256 against the manifest's digests
// Both download the objects daotrain uploaded; rclone's defaults otherwise (4 transfers, 4
// upload parts and 4 download streams per file in flight).
import { execFile } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArgs, promisify } from "node:util";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type CheckpointManifest, floatTensor, NO_PARENT, writeCheckpoint } from "../checkpoints/index.ts";
import { downloadCheckpoint } from "../download/index.ts";
import { requireTool } from "../localstack/process.ts";
import { openStore, putDirectory } from "../storage/index.ts";
import { DEFAULT_CONCURRENCY, DEFAULT_PART_BYTES, partRanges } from "../storage/s3.ts";
import { startS3Server } from "../tests/harness/s3.ts";
import { printTable } from "./table.ts";

const { values } = parseArgs({
  options: {
    gib: { type: "string", default: "1" },
    shards: { type: "string", default: "4" },
    repeat: { type: "string", default: "3" },
  },
});
const totalBytes = Math.round(Number(values.gib) * 1024 ** 3);
const shardCount = Number(values.shards);
const repeats = Number(values.repeat);
const MiB = 1024 * 1024;
const run = promisify(execFile);

/** Fields of /proc/<pid>/stat after the command name: [11], [12] its own CPU, [13], [14] its children's. */
function statFields(pid: number | "self"): number[] {
  return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ").map(Number);
}
const processCpuSeconds = (pid: number) => {
  const f = statFields(pid);
  return (f[11]! + f[12]!) / 100;
};
/** This process and the children it has waited for (rclone): the client side of a transfer. */
const clientCpuSeconds = () => {
  const f = statFields("self");
  return (f[11]! + f[12]! + f[13]! + f[14]!) / 100;
};

interface Timing {
  seconds: number;
  /** CPU seconds of the client (this process and its threads, or rclone) and of the S3 server. */
  clientCpu: number;
  serverCpu: number;
}

async function timed(serverPid: number, what: () => Promise<unknown>): Promise<Timing> {
  const server = processCpuSeconds(serverPid);
  const client = clientCpuSeconds();
  const started = process.hrtime.bigint();
  await what();
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    clientCpu: clientCpuSeconds() - client,
    serverCpu: processCpuSeconds(serverPid) - server,
  };
}

const fastest = (timings: Timing[]) => timings.reduce((a, b) => (b.seconds < a.seconds ? b : a));

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
  const rcloneBin = await requireTool("rclone");
  await server.createBucket("bench");
  const source = join(work, "checkpoint");
  const manifest = await writeBenchCheckpoint(source);
  const bytes = manifest.shards.reduce((sum, shard) => sum + shard.bytes, 0);
  const pid = server.process.pid;
  const store = openStore("s3://bench/daotrain", { s3: server.storeOptions });
  // rclone's remote `peer:` from the environment: the keys never appear on a command line.
  // The machine's own AWS_* settings stay out (a CA bundle there breaks rclone's plain-HTTP client).
  const rcloneEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_"))),
    RCLONE_CONFIG: "/dev/null",
    RCLONE_CONFIG_PEER_TYPE: "s3",
    RCLONE_CONFIG_PEER_PROVIDER: "Other",
    RCLONE_CONFIG_PEER_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_PEER_ACCESS_KEY_ID: server.credentials.accessKeyId,
    RCLONE_CONFIG_PEER_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    RCLONE_CONFIG_PEER_FORCE_PATH_STYLE: "true",
    RCLONE_CONFIG_PEER_REGION: "us-east-1",
  };
  const rclone = (...args: string[]) => run(rcloneBin, args, { env: rcloneEnv, maxBuffer: 16 * MiB });
  const sums = join(work, "SHA256SUMS");
  await writeFile(
    sums,
    manifest.shards
      .map((s) => `${s.sha256}  ${s.path}`)
      .join("\n")
      .concat("\n"),
  );
  const shardFilter = manifest.shards.flatMap((s) => ["--include", s.path]);

  const fresh = async (name: string) => {
    const dir = join(work, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  };
  let attempt = 0;
  const pairs = {
    upload: {
      daotrain: async () => putDirectory(store, source, `runs/bench/up-${attempt}`),
      rclone: async () => rclone("copy", source, `peer:bench/rclone/up-${attempt}`),
    },
    download: {
      daotrain: async () => {
        const dir = await fresh("raw");
        await Promise.all(
          manifest.shards.map((shard) =>
            store.downloadToFile(`runs/bench/up-0/${shard.path}`, join(dir, shard.path)),
          ),
        );
      },
      rclone: async () => {
        const dir = await fresh("rclone-raw");
        await rclone("copy", "--ignore-checksum", ...shardFilter, "peer:bench/daotrain/runs/bench/up-0", dir);
      },
    },
    "verified download": {
      daotrain: async () => {
        const out = join(await fresh("verified"), "checkpoint");
        await downloadCheckpoint({
          checkpoint: {
            runId: manifest.runId,
            round: manifest.round,
            root: manifest.root,
            manifestUri: store.uriOf("runs/bench/up-0/manifest.json"),
            released: true,
          },
          releasedRounds: async () => [manifest.round],
          out,
          store: { s3: server.storeOptions },
        });
      },
      rclone: async () => {
        const dir = await fresh("rclone-verified");
        await rclone("copy", ...shardFilter, "peer:bench/daotrain/runs/bench/up-0", dir);
        await rclone("checksum", "sha256", sums, dir);
      },
    },
  };
  const results: Record<string, { daotrain: Timing[]; rclone: Timing[] }> = {};
  for (const [what, pair] of Object.entries(pairs)) {
    results[what] = { daotrain: [], rclone: [] };
    for (attempt = 0; attempt < repeats; attempt++) {
      const order = attempt % 2 === 0 ? (["daotrain", "rclone"] as const) : (["rclone", "daotrain"] as const);
      for (const who of order) results[what]![who].push(await timed(pid, pair[who]));
      // Uploads after the first are dropped at once: the bytes on disk stay one checkpoint's worth.
      if (what === "upload") {
        await rm(join(server.dataDir, "bench", "rclone"), { recursive: true, force: true });
        if (attempt > 0)
          await rm(join(server.dataDir, "bench", "daotrain", "runs", "bench", `up-${attempt}`), {
            recursive: true,
            force: true,
          });
      }
    }
  }

  // What Node's HTTP client can do here at all: the download's ranged GETs (the store's part size
  // and parts in flight, every shard at once) through the SDK, each body's bytes dropped as they
  // come, nothing copied or written. Its client CPU per GiB against rclone's is why the plain
  // download cannot reach rclone on this machine.
  const sdk = new S3Client(server.storeOptions);
  const ceiling: Timing[] = [];
  for (let i = 0; i < repeats; i++) {
    ceiling.push(
      await timed(pid, () =>
        Promise.all(
          manifest.shards.map(async (shard) => {
            const ranges = partRanges(0, shard.bytes, DEFAULT_PART_BYTES);
            const fetchNext = async (): Promise<void> => {
              const range = ranges.shift();
              if (!range) return;
              const answer = await sdk.send(
                new GetObjectCommand({
                  Bucket: "bench",
                  Key: `daotrain/runs/bench/up-0/${shard.path}`,
                  Range: `bytes=${range[0]}-${range[1] - 1}`,
                }),
              );
              const body = answer.Body as Readable;
              body.resume();
              await finished(body);
              await fetchNext();
            };
            await Promise.all(Array.from({ length: DEFAULT_CONCURRENCY }, fetchNext));
          }),
        ),
      ),
    );
  }
  sdk.destroy();

  const copyDir = await fresh("copy");
  const copies: Timing[] = [];
  for (let i = 0; i < repeats; i++) {
    copies.push(
      await timed(pid, () =>
        Promise.all(
          manifest.shards.map((shard) => copyFile(join(source, shard.path), join(copyDir, shard.path))),
        ),
      ),
    );
  }

  const rate = (t: Timing) => bytes / MiB / t.seconds;
  const perGiB = (cpuSeconds: number) => ((cpuSeconds * 1024 ** 3) / bytes).toFixed(2);
  const [load1] = loadavg();
  console.log(
    `S3 checkpoint transfers: ${(bytes / 1024 ** 3).toFixed(2)} GiB in ${manifest.shards.length} shards, ` +
      `versitygw at ${server.endpoint}, ${cpus().length} cores, load average ${load1!.toFixed(1)}, best of ${repeats}\n`,
  );
  const copy = fastest(copies);
  printTable(
    [
      "what",
      "daotrain MiB/s",
      "rclone MiB/s (baseline)",
      "ratio",
      "client CPU s/GiB (daotrain / rclone)",
      "server CPU s/GiB (daotrain / rclone)",
      "vs file copy",
    ],
    Object.entries(results).map(([what, r]) => {
      const ours = fastest(r.daotrain);
      const peer = fastest(r.rclone);
      return [
        what,
        rate(ours).toFixed(0),
        rate(peer).toFixed(0),
        `${(rate(ours) / rate(peer)).toFixed(2)}×`,
        `${perGiB(ours.clientCpu)} / ${perGiB(peer.clientCpu)}`,
        `${perGiB(ours.serverCpu)} / ${perGiB(peer.serverCpu)}`,
        `${(rate(ours) / rate(copy)).toFixed(2)}×`,
      ];
    }),
  );
  const bare = fastest(ceiling);
  const rcloneDownload = fastest(results.download!.rclone);
  console.log(
    `\nNode's ceiling (the download's ranged GETs through the SDK, bytes dropped, nothing written): ` +
      `${rate(bare).toFixed(0)} MiB/s = ${(rate(bare) / rate(rcloneDownload)).toFixed(2)}× rclone's download, ` +
      `client CPU ${perGiB(bare.clientCpu)} s/GiB`,
  );
  console.log(`file copy (copyFile, the disk alone): ${rate(copy).toFixed(0)} MiB/s`);
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
