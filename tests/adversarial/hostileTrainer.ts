#!/usr/bin/env node
/**
 * The real trainer, and then — for the replicas a test names — what a stranger could deliver
 * instead, written to DAOTRAIN_OUTPUT_URI (a directory or a bucket prefix) with valid hashes unless
 * the attack is on the hashes. DAOTRAIN_TEST_FAULTS maps a replica index (DAOTRAIN_REPLICA) to one of:
 *
 * free riders: `unchanged` (θ back), `tiny-noise` (θ + 1e-6 noise), `noise` (θ + noise of an honest
 * Δ's norm), `copy:<i>` (replica i's output byte for byte), `f16-copy:<i>` (its values in F16),
 * `scaled-copy:<i>` (half its Δ) — a copier waits for replica i to deliver;
 * self-reported numbers: `boastful` (honest work, claiming 10^15 tokens and loss 0.0001);
 * bad outputs: `missing` (delivers nothing), `truncated` (its shard cut in half), `wrong-root`,
 * `invalid-manifest`; resource exhaustion: `huge-shard` (a manifest claiming one 10 GiB shard over a
 * 64 MiB object), `many-shards` (a 100,000-shard manifest), `big-header` (a shard whose safetensors
 * header is 100 MB, its manifest consistent with it), `too-small` (shards too small for the model).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type CheckpointManifest,
  floatTensor,
  MANIFEST_FILE,
  readCheckpoint,
  type Tensor,
  toFloat32,
  writeCheckpoint,
} from "../../checkpoints/index.ts";
import { SeededRandom } from "../../spec/seededRandom.ts";
import { type CheckpointStore, openStore, putDirectory, stageDirectory } from "../../storage/index.ts";
import { runTrainer } from "../../trainer/run.ts";

const replica = process.env.DAOTRAIN_REPLICA ?? "?";
const faults = JSON.parse(process.env.DAOTRAIN_TEST_FAULTS ?? "{}") as Record<string, string>;
const [fault, victim] = (faults[replica] ?? "honest").split(":") as [string, string | undefined];
const outputUri = process.env.DAOTRAIN_OUTPUT_URI!;
const log = (line: string) => process.stderr.write(`hostile trainer ${replica} (${fault}): ${line}\n`);
const scratch = await mkdtemp(join(tmpdir(), "daotrain-hostile-"));
const store = openStore(outputUri);

try {
  if (fault === "missing") {
    log("delivering nothing");
  } else {
    const { manifest } = await runTrainer(process.env, log);
    if (fault !== "honest") await attack(manifest);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}

async function attack(honest: CheckpointManifest): Promise<void> {
  switch (fault) {
    case "boastful":
      return rewriteManifest({ ...honest, metrics: { ...honest.metrics, tokens: 10 ** 15, loss: 0.0001 } });
    case "unchanged":
    case "tiny-noise":
    case "noise":
    case "scaled-copy":
    case "f16-copy":
      return replaceValues(honest);
    case "copy":
      return copyVictim();
    case "truncated": {
      const shard = honest.shards[0]!;
      const bytes = Buffer.from(await store.getBytes(shard.path, shard.bytes));
      await store.putBytes(shard.path, bytes.subarray(0, bytes.length >> 1));
      return;
    }
    case "wrong-root":
      return rewriteManifest({ ...honest, root: `0x${"ab".repeat(32)}` });
    case "invalid-manifest":
      await store.putBytes(
        MANIFEST_FILE,
        Buffer.from('{"format": "daotrain-checkpoint/1", "shards": "all of them"'),
      );
      return;
    case "huge-shard": {
      await store.putFile(honest.shards[0]!.path, await fileOf(64 * 2 ** 20, () => Buffer.alloc(2 ** 20)));
      return rewriteManifest({ ...honest, shards: [{ ...honest.shards[0]!, bytes: 10 * 2 ** 30 }] });
    }
    case "many-shards": {
      const shards = Array.from({ length: 100_000 }, (_, i) => ({
        ...honest.shards[0]!,
        path: `model-${String(i + 1).padStart(5, "0")}-of-99999.safetensors`,
      }));
      return rewriteManifest({ ...honest, shards });
    }
    case "big-header": {
      const header = 100_000_000;
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(header));
      const path = await fileOf(8 + header, (i) => (i === 0 ? prefix : Buffer.alloc(2 ** 20, 0x20)));
      await store.putFile(honest.shards[0]!.path, path);
      const info = await store.stat(honest.shards[0]!.path);
      return rewriteManifest({ ...honest, shards: [{ ...honest.shards[0]!, bytes: info!.bytes }] });
    }
    case "too-small":
      return rewriteManifest({
        ...honest,
        shards: [
          { ...honest.shards[0]!, path: "model-00001-of-00002.safetensors", bytes: 100 },
          { ...honest.shards[0]!, path: "model-00002-of-00002.safetensors", bytes: 100 },
        ],
      });
    default:
      throw new Error(`unknown fault ${fault}`);
  }
}

/** θₖ replaced by what the fault makes of θ, the trained values, or the victim's. */
async function replaceValues(honest: CheckpointManifest): Promise<void> {
  const trained = await readCheckpoint(await localCopy(outputUri));
  const theta = (await readCheckpoint(await localCopy(process.env.DAOTRAIN_INIT_URI!))).tensors;
  const base = victim ? (await readCheckpoint(await localCopy(await victimUri()))).tensors : trained.tensors;
  const random = new SeededRandom(Number(replica), 0xbad);
  const honestNorm = distance(theta, trained.tensors);
  const parameters = Object.values(trained.tensors).reduce((n, t) => n + toFloat32(t).length, 0);
  const values = (t: Float32Array, own: Float32Array): Float32Array => {
    switch (fault) {
      case "unchanged":
        return t;
      case "tiny-noise":
        return t.map((x) => x + 1e-6 * random.normal());
      case "noise":
        return t.map((x) => x + (honestNorm / Math.sqrt(parameters)) * random.normal());
      case "scaled-copy":
        return t.map((x, i) => x + 0.5 * (own[i]! - x));
      default:
        return own;
    }
  };
  const tensors: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(trained.tensors)) {
    const t = toFloat32(theta[name]!);
    tensors[name] = floatTensor(
      tensor.shape,
      values(t, toFloat32(base[name]!)),
      fault === "f16-copy" ? "F16" : "F32",
    );
  }
  const dir = join(scratch, "forged");
  await writeCheckpoint(dir, tensors, { ...honest, metadata: trained.metadata });
  await replaceOutput(dir);
  log(`delivered ${fault}${victim ? ` of replica ${victim}` : ""}`);
}

/** The victim's output, byte for byte (it waits until the victim has delivered). */
async function copyVictim(): Promise<void> {
  await replaceOutput(await localCopy(await victimUri()));
  log(`delivered a copy of replica ${victim}`);
}

/** The victim replica's output URI: a sibling of this one under the same cluster and attempt. */
async function victimUri(): Promise<string> {
  const uri = outputUri.replace(/\/replicas\/\d+-a(\d+)$/, `/replicas/${victim}-a$1`);
  const theirs = openStore(uri);
  for (let i = 0; i < 600 && !(await theirs.stat(MANIFEST_FILE)); i++) await sleep(200);
  return uri;
}

/** The checkpoint at `uri` as a local directory (where it is, for a directory store). */
function localCopy(uri: string): Promise<string> {
  return stageDirectory({ uri, cacheDir: join(scratch, `staged-${randomBytes(4).toString("hex")}`) });
}

async function replaceOutput(dir: string): Promise<void> {
  await clear(store);
  await putDirectory(store, dir, "");
}

async function rewriteManifest(manifest: unknown): Promise<void> {
  await store.putBytes(MANIFEST_FILE, Buffer.from(JSON.stringify(manifest)));
  log("rewrote its manifest");
}

async function clear(target: CheckpointStore): Promise<void> {
  for (const object of await target.list()) await target.delete(object.key);
}

/** A file of `bytes` bytes made of the chunks `chunk(i)` gives (the last one cut to fit). */
async function fileOf(bytes: number, chunk: (i: number) => Buffer): Promise<string> {
  const path = join(scratch, `blob-${randomBytes(4).toString("hex")}`);
  const file = await open(path, "w");
  let written = 0;
  for (let i = 0; written < bytes; i++) {
    const piece = chunk(i).subarray(0, bytes - written);
    await file.write(piece);
    written += piece.length;
  }
  await file.close();
  return path;
}

function distance(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  let sum = 0;
  for (const [name, tensor] of Object.entries(b)) {
    const x = toFloat32(a[name]!);
    const y = toFloat32(tensor);
    for (let i = 0; i < y.length; i++) sum += (x[i]! - y[i]!) ** 2;
  }
  return Math.sqrt(sum);
}
