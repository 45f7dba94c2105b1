/**
 * Checkpoint hashing and verification throughput on a 2 GiB checkpoint, against what sha256 can
 * do on this machine: `openssl speed -evp sha256` (16 KiB blocks, one core) × cores, measured in
 * the same run. Two comparisons: wall clock against `openssl speed -elapsed` (both feel whatever
 * else the machine runs), and CPU seconds against openssl's default CPU-time figure (per core,
 * immune to other load). Hashing and verification run in a child process each, so the peak RSS
 * reported is theirs alone. Each child calls twice: the first call starts the process's hashing
 * threads, the second finds them running, as in a long-lived worker that verifies round after
 * round. Writes to a temporary directory and deletes it.
 *
 *   node bench/hashing.ts [--gib 2] [--runs 3]
 */
import { execFile, execFileSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import {
  floatTensor,
  hashCheckpoint,
  NO_PARENT,
  type Tensor,
  verifyCheckpoint,
  writeCheckpoint,
} from "../checkpoints/index.ts";
import { printTable } from "./table.ts";

const GB = 1e9;
const MB = 1024 * 1024;

type Mode = "hash" | "verify";
/** The first call in a fresh process also starts the hashing threads; later calls find them running. */
type Call = "first" | "next";

interface Timing {
  readonly seconds: number;
  /** CPU seconds of the whole child during the call, every thread. */
  readonly cpuSeconds: number;
}

interface ChildResult {
  readonly calls: Record<Call, Timing>;
  readonly bytes: number;
  readonly maxRssBytes: number;
  readonly ok: boolean;
}

/** In a child: hash or verify the checkpoint twice and report each call's time and the peak RSS. */
async function child(mode: Mode, dir: string): Promise<void> {
  let bytes = 0;
  let ok = true;
  const once = async (): Promise<Timing> => {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const { shards, ok: verified } =
      mode === "hash" ? { ...(await hashCheckpoint(dir)), ok: true } : await verifyCheckpoint(dir);
    const cpu = process.cpuUsage(cpuStarted);
    bytes = shards.reduce((n, s) => n + s.bytes, 0);
    ok &&= verified;
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
  const calls = { first: await once(), next: await once() };
  const report: ChildResult = { calls, bytes, maxRssBytes: process.resourceUsage().maxRSS * 1024, ok };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/**
 * sha256 bytes/s of one core by OpenSSL's own benchmark (16 KiB blocks, its fastest size), per
 * second of wall clock (`-elapsed`) or, by default, of CPU time.
 */
function opensslSha256PerCore(seconds: number, elapsed: boolean): number {
  const args = [
    "speed",
    ...(elapsed ? ["-elapsed"] : []),
    "-mr",
    "-evp",
    "sha256",
    "-bytes",
    "16384",
    "-seconds",
    String(seconds),
  ];
  const out = execFileSync("openssl", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const line = out.split("\n").find((l) => l.startsWith("+F:"));
  const value = Number(line?.split(":").at(-1));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`cannot read openssl speed's output: ${out}`);
  return value;
}

/** A checkpoint of `bytes` bytes in 32 MiB F32 tensors (four random buffers reused, so the writer stays small). */
function syntheticTensors(bytes: number): Record<string, Tensor> {
  const tensorBytes = 32 * MB;
  const pool = Array.from({ length: 4 }, () => {
    const values = new Float32Array(tensorBytes / 4);
    randomFillSync(values);
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) values[i] = 0;
    return values;
  });
  const tensors: Record<string, Tensor> = {};
  for (let i = 0; i * tensorBytes < bytes; i++) {
    tensors[`layers.${String(i).padStart(3, "0")}.weight`] = floatTensor(
      [tensorBytes / 4 / 1024, 1024],
      pool[i % pool.length]!,
    );
  }
  return tensors;
}

async function runChild(mode: Mode, dir: string): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [new URL(import.meta.url).pathname, "--child", mode, dir],
    {
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(stdout) as ChildResult;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      gib: { type: "string", default: "2" },
      runs: { type: "string", default: "3" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.child) return child(values.child as Mode, process.argv.at(-1)!);

  const cores = availableParallelism();
  const runs = Number(values.runs);
  const target = Number(values.gib) * 1024 * MB;
  const dir = await mkdtemp(join(tmpdir(), "daotrain-bench-hashing-"));
  try {
    process.stderr.write(`writing a ${values.gib} GiB checkpoint to ${dir} …\n`);
    const writeStarted = performance.now();
    const manifest = await writeCheckpoint(join(dir, "checkpoint"), syntheticTensors(target), {
      runId: `0x${"00".repeat(32)}`,
      round: 0,
      parentRoot: NO_PARENT,
      metrics: { loss: null, valLoss: null, tokens: 0, steps: 0 },
    });
    const writeSeconds = (performance.now() - writeStarted) / 1000;
    const bytes = manifest.shards.reduce((n, s) => n + s.bytes, 0);

    const results: Record<Mode, ChildResult[]> = { hash: [], verify: [] };
    const wallBaselines: number[] = [];
    const cpuBaselines: number[] = [];
    for (let r = 0; r < runs; r++) {
      wallBaselines.push(opensslSha256PerCore(3, true));
      cpuBaselines.push(opensslSha256PerCore(3, false));
      results.hash.push(await runChild("hash", join(dir, "checkpoint")));
      results.verify.push(await runChild("verify", join(dir, "checkpoint")));
    }
    if (!results.verify.every((v) => v.ok))
      throw new Error("verification failed on a checkpoint just written");
    const wallLimit = median(wallBaselines) * cores;
    const cpuLimit = median(cpuBaselines);

    const rows = (["hash", "verify"] as const).flatMap((mode) =>
      (["next", "first"] as const).map((call) => {
        const timings = results[mode].map((r) => r.calls[call]);
        const speeds = timings.map((t) => bytes / t.seconds);
        const best = Math.max(...speeds);
        const perCpu = Math.max(...timings.map((t) => bytes / t.cpuSeconds));
        return [
          `${mode === "hash" ? "hashCheckpoint" : "verifyCheckpoint"}, ${call === "next" ? "threads running" : "first call, threads start"}`,
          `${(best / GB).toFixed(2)} GB/s (median ${(median(speeds) / GB).toFixed(2)})`,
          `${(wallLimit / GB).toFixed(2)} GB/s`,
          `${((100 * best) / wallLimit).toFixed(0)} %`,
          `${(perCpu / GB).toFixed(2)} / ${(cpuLimit / GB).toFixed(2)} GB/s = ${((100 * perCpu) / cpuLimit).toFixed(0)} %`,
        ];
      }),
    );
    const header = [
      "operation",
      `wall clock, best of ${runs}`,
      `openssl -elapsed × ${cores} cores`,
      "ratio (target ≥ 85 %)",
      "per CPU-second: ours / openssl",
    ];
    console.log(
      `checkpoint: ${(bytes / GB).toFixed(2)} GB in ${manifest.shards.length} shards, warm page cache; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(
          " ",
        )}; openssl per core, wall: ${wallBaselines.map((b) => (b / GB).toFixed(2)).join(", ")} GB/s`,
    );
    printTable(header, rows);
    const rss = Math.max(...[...results.hash, ...results.verify].map((r) => r.maxRssBytes));
    console.log(
      `peak RSS of a hashing or verifying process: ${(rss / MB).toFixed(0)} MiB (target < 300 MiB)`,
    );
    console.log(`writeCheckpoint (write + fsync + hash): ${(bytes / writeSeconds / GB).toFixed(2)} GB/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
