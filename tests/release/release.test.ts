import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { merkleRoot, readCheckpoint, readSafetensorsHeader } from "../../checkpoints/index.ts";
import { openDataset } from "../../datasets/read.ts";
import { byteTokenizer } from "../../datasets/tokenizer.ts";
import { DownloadExitCode } from "../../download/index.ts";
import { continueTokens, windowLogits } from "../../model/generate.ts";
import { modelValues, validationBatches } from "../../model/index.ts";
import { type ReleaseManifest, readReleaseManifest } from "../../release/manifest.ts";
import { type ReleasedModel, releasedModel } from "./fixtures.ts";

const repo = new URL("../../", import.meta.url).pathname;
const cli = join(repo, "cli/main.ts");
const hfPython = join(repo, ".daotrain/bin/hf-python");
const checkScript = join(repo, "tests/release/transformers_check.py");
const PROMPT = "The fox and the crow";

let work: string;
let model: ReleasedModel;
let downloaded: string;
/** What transformers computed from the downloaded directory, and the trainer's greedy continuation. */
let fromDirectory: { windows: number[][]; answer: TransformersAnswer; greedy: number[] } | undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function daotrain(args: string[], command = [process.execPath, cli]): Promise<Run> {
  const [file, ...pre] = command;
  try {
    const { stdout, stderr } = await promisify(execFile)(file!, [...pre, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const chain = () => ["--deployment", model.deploymentFile];

interface TransformersAnswer {
  class: string;
  tokenizer_class: string;
  logits: number[];
  prompt_ids: number[];
  generated: number[];
  encoded: number[][];
  decoded: string[];
}

/** Runs the Python side (transformers + torch on the CPU) with a JSON request on stdin. */
async function transformers(request: object, env: NodeJS.ProcessEnv = {}): Promise<TransformersAnswer> {
  await access(hfPython).catch(() => {
    throw new Error(`${hfPython} is missing: run bootstrap/bootstrap.sh --only huggingface first`);
  });
  return new Promise((resolve, reject) => {
    const child = spawn(hfPython, [checkScript], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as TransformersAnswer)
        : reject(new Error(`transformers_check.py exited ${code}: ${stderr}`)),
    );
    child.stdin.end(JSON.stringify(request));
  });
}

/** Held-out windows the trainer scores checkpoints on (the dataset's validation split). */
async function heldOutWindows(count: number): Promise<number[][]> {
  const dataset = await openDataset(model.datasetDir, model.dataset.root);
  const [batch] = validationBatches(await dataset.readValidation(), model.spec.model.contextLength, count, 1);
  const t = model.spec.model.contextLength;
  return Array.from({ length: count }, (_, row) =>
    Array.from(batch!.inputs.subarray(row * t, (row + 1) * t)),
  );
}

async function trainerValues(): Promise<Record<string, Float32Array>> {
  const checkpoint = await readCheckpoint(model.checkpointDir, { expectedRoot: model.root });
  return modelValues(checkpoint.tensors, model.spec);
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "daotrain-release-"));
  model = await releasedModel(work);
  downloaded = join(work, "download");
  const result = await download("--out", downloaded, "--json");
  if (result.code !== 0) throw new Error(`daotrain download failed: ${result.stderr}`);
}, 600_000);

afterAll(async () => {
  await model?.anvil.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("a released model in the Hugging Face layout", () => {
  it("downloads every file of the release, proven against the chain, with the weights under GPT2LMHeadModel's names", async () => {
    expect((await readdir(downloaded)).sort()).toEqual([
      "README.md",
      "SHA256SUMS",
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "outer_optimizer.safetensors",
      "release.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const { stdout } = await promisify(execFile)("sha256sum", ["-c", "SHA256SUMS"], { cwd: downloaded });
    expect(stdout).not.toContain("FAILED");
    const weights = await readSafetensorsHeader(join(downloaded, "model.safetensors"));
    expect([...weights.tensors.keys()].every((name) => name.startsWith("transformer."))).toBe(true);
    expect(weights.tensors.has("transformer.wte.weight")).toBe(true);
    const momentum = await readSafetensorsHeader(join(downloaded, "outer_optimizer.safetensors"));
    expect([...momentum.tensors.keys()].sort()).toEqual([...weights.tensors.keys()].sort());
    const card = await readFile(join(downloaded, "README.md"), "utf8");
    for (const fact of [model.runId, model.root, model.dataset.root, "CC0-1.0", "daotrain verify"])
      expect(card).toContain(fact);
  });

  it("loads in transformers: logits on held-out windows within 1e-4 of the trainer's, and 32 greedy tokens identical", async () => {
    const windows = await heldOutWindows(4);
    const values = await trainerValues();
    const answer = await transformers({
      model: downloaded,
      windows,
      prompt: PROMPT,
      new_tokens: 32,
      texts: [PROMPT, "Ésope — 寓言 🦊"],
    });
    expect(answer.class).toBe("GPT2LMHeadModel");
    const ours = await windowLogits(values, model.spec.model, windows);
    const difference = maxAbsDifference(ours, answer.logits);
    console.log(
      `max |logits(transformers) − logits(trainer)| over ${ours.length} values: ${difference.toExponential(3)}`,
    );
    expect(difference).toBeLessThanOrEqual(1e-4);

    expect(answer.prompt_ids).toEqual(Array.from(byteTokenizer.encode(PROMPT)));
    const greedy = await continueTokens(values, model.spec.model, byteTokenizer.encode(PROMPT), {
      tokens: 32,
      temperature: 0,
      seed: 0,
    });
    console.log(
      `greedy from ${JSON.stringify(PROMPT)}: trainer ${JSON.stringify(byteTokenizer.decode(greedy))}, transformers ${JSON.stringify(byteTokenizer.decode(answer.generated))}`,
    );
    expect(answer.generated).toEqual(greedy);
    fromDirectory = { windows, answer, greedy };
    expect(answer.encoded[1]).toEqual(Array.from(Buffer.from("Ésope — 寓言 🦊", "utf8")));
    expect(answer.decoded).toEqual([PROMPT, "Ésope — 寓言 🦊"]);
  });

  it("--hf-cache places it so that from_pretrained(name, revision=root) loads it with the network off", async () => {
    const cache = join(work, "hf-cache");
    const result = await download("--hf-cache", cache, "--json");
    expect(result.code, result.stderr).toBe(0);
    const repoFolder = join(cache, "models--daotrain--release-test-lm");
    expect(await readFile(join(repoFolder, "refs", "main"), "utf8")).toBe(model.root);
    expect((await readdir(join(repoFolder, "blobs"))).every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(
      true,
    );
    const { windows, answer } = fromDirectory!;
    const fromCache = await transformers(
      {
        model: "daotrain/release-test-lm",
        revision: model.root,
        cache_dir: cache,
        windows,
        prompt: PROMPT,
        new_tokens: 32,
      },
      { HF_HUB_OFFLINE: "1" },
    );
    expect(fromCache.logits).toEqual(answer.logits);
    expect(fromCache.generated).toEqual(answer.generated);
  });
});

/** A copy of the download, as a mirror or rsync would hand it over. */
async function copyOfDownload(name: string): Promise<string> {
  const dir = join(work, name);
  await cp(downloaded, dir, { recursive: true });
  return dir;
}

/**
 * What a forger who controls a mirror does: replaces a file and rewrites release.json so that its
 * listing and root agree with the new bytes.
 */
async function forge(dir: string, path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(join(dir, path), bytes);
  const manifest: ReleaseManifest = await readReleaseManifest(dir);
  const files = manifest.files.map((f) =>
    f.path === path
      ? { ...f, bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") }
      : f,
  );
  const forged = { ...manifest, files, root: merkleRoot(files.map((f) => f.sha256)) };
  await writeFile(join(dir, "release.json"), JSON.stringify(forged));
}

const download = (...args: string[]) => daotrain(["download", model.runId, ...chain(), ...args]);
const verify = (dir: string, ...args: string[]) =>
  daotrain(["verify", dir, "--run", model.runId, ...chain(), ...args]);

describe("daotrain download --include/--exclude", () => {
  it("writes only the selected files, still proving the weights with the optimizer file it does not keep", async () => {
    const out = join(work, "weights-only");
    const result = await download(
      "--out",
      out,
      "--exclude",
      "outer_optimizer.safetensors",
      "--exclude",
      "README.md",
    );
    expect(result.code, result.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      "SHA256SUMS",
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "release.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const configs = join(work, "configs-only");
    const json = await download("--out", configs, "--include", "*.json");
    expect(json.code, json.stderr).toBe(0);
    expect((await readdir(configs)).filter((name) => name.endsWith(".safetensors"))).toEqual([]);
  });

  it("refuses globs that select nothing with exit 6 and writes nothing", async () => {
    const out = join(work, "nothing");
    const result = await download("--out", out, "--include", "*.bin");
    expect(result.code).toBe(DownloadExitCode.manifestInvalid);
    expect(result.stderr).toContain("no file of the release matches");
    await expect(access(out)).rejects.toThrow();
  });
});

describe("daotrain verify <dir> against the chain", () => {
  it("verifies a copy made by other means, file by file, naming what covers each", async () => {
    const dir = await copyOfDownload("mirror-copy");
    const result = await verify(dir);
    expect(result.code, result.stderr).toBe(0);
    for (const file of ["model.safetensors", "config.json", "README.md"])
      expect(result.stdout).toMatch(new RegExp(`${file} +verified`));
    expect(result.stdout).toContain("against the checkpoint root");
    expect(result.stdout).toContain("against the run id");
  });

  it("refuses a flipped byte in the weights with exit 5", async () => {
    const dir = await copyOfDownload("flipped");
    const weights = await readFile(join(dir, "model.safetensors"));
    weights[weights.length - 3]! ^= 0xff;
    await writeFile(join(dir, "model.safetensors"), weights);
    const result = await verify(dir);
    expect(result.code).toBe(DownloadExitCode.shardCorrupt);
    expect(result.stderr).toContain("model.safetensors");
  });

  it("refuses weights a forger changed and relisted in release.json with exit 4: they do not rebuild the committed checkpoint", async () => {
    const dir = await copyOfDownload("forged-weights");
    const weights = await readFile(join(dir, "model.safetensors"));
    weights.writeFloatLE(weights.readFloatLE(weights.length - 4) + 0.5, weights.length - 4);
    await forge(dir, "model.safetensors", weights);
    const result = await verify(dir);
    expect(result.code).toBe(DownloadExitCode.rootMismatch);
    expect(result.stderr).toContain("not the committed");
  });

  it("refuses a config or model card a forger rewrote consistently with exit 4: they are recomputed from the chain", async () => {
    for (const [path, edit] of [
      ["config.json", (text: string) => text.replace('"n_head": 4', '"n_head": 2')],
      ["README.md", (text: string) => text.replace("CC0-1.0", "CC-BY-4.0")],
    ] as const) {
      const dir = await copyOfDownload(`forged-${path}`);
      await forge(dir, path, Buffer.from(edit(await readFile(join(dir, path), "utf8"))));
      const result = await verify(dir);
      expect(result.code, path).toBe(DownloadExitCode.rootMismatch);
      expect(result.stderr).toContain(`${path}: release.json lists sha256`);
    }
  });

  it("refuses a round or run the DAO did not release with exit 3", async () => {
    const result = await daotrain(["verify", downloaded, "--run", `0x${"ab".repeat(32)}`, ...chain()]);
    expect(result.code).toBe(DownloadExitCode.notReleased);
  });

  it("verifies a partial copy's files, but cannot prove the weights without the optimizer file (exit 5)", async () => {
    const dir = await copyOfDownload("partial");
    await rm(join(dir, "outer_optimizer.safetensors"));
    const result = await verify(dir);
    expect(result.code).toBe(DownloadExitCode.shardCorrupt);
    expect(result.stderr).toContain("together with outer_optimizer.safetensors");
    const configs = await verify(dir, "--include", "*.json");
    expect(configs.code, configs.stderr).toBe(0);
    expect(configs.stdout).toMatch(/outer_optimizer.safetensors +absent/);
  });
});

describe("daotrain sample", () => {
  it("continues a prompt with the verified release: greedy, the text transformers generates too", async () => {
    const result = await daotrain([
      "sample",
      downloaded,
      ...chain(),
      "--prompt",
      PROMPT,
      "--tokens",
      "32",
      "--temperature",
      "0",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { tokens: number[]; continuation: string; root: string };
    expect(printed.root).toBe(model.root);
    // The trainer's greedy continuation, which transformers generated identically (above).
    expect(printed.tokens).toEqual(fromDirectory!.greedy);
    console.log(`daotrain sample (greedy): ${JSON.stringify(PROMPT + printed.continuation)}`);
  });

  it("samples reproducibly from a seed, and refuses a tampered copy before sampling", async () => {
    const args = [
      "sample",
      downloaded,
      ...chain(),
      "--prompt",
      PROMPT,
      "--tokens",
      "24",
      "--temperature",
      "0.9",
      "--seed",
      "3",
    ];
    const [first, second] = [await daotrain(args), await daotrain(args)];
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(second.stdout);
    expect(first.stdout.startsWith(PROMPT)).toBe(true);
    const dir = await copyOfDownload("tampered-sample");
    const weights = await readFile(join(dir, "model.safetensors"));
    weights[weights.length - 1]! ^= 0x01;
    await writeFile(join(dir, "model.safetensors"), weights);
    const refused = await daotrain(["sample", dir, ...chain(), "--prompt", PROMPT]);
    expect(refused.code).toBe(DownloadExitCode.shardCorrupt);
    expect(refused.stdout).toBe("");
  });
});

describe("the npm package, installed without the lab", () => {
  let bin: string;
  beforeAll(async () => {
    const pack = join(work, "pack");
    await mkdir(pack);
    const { stdout } = await promisify(execFile)(
      "npm",
      ["pack", "--pack-destination", pack, "--loglevel=error"],
      { cwd: repo, maxBuffer: 16 << 20 },
    );
    const tarball = join(pack, stdout.trim().split("\n").at(-1)!);
    const prefix = join(work, "prefix");
    await promisify(execFile)(
      "npm",
      [
        "install",
        "--global",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        tarball,
      ],
      { maxBuffer: 16 << 20 },
    );
    bin = join(prefix, "bin", "daotrain");
  }, 600_000);

  it("holds compiled JavaScript and only runtime dependencies", async () => {
    const installed = join(work, "prefix", "lib", "node_modules", "daotrain");
    const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      engines: { node: string };
    };
    for (const lab of [
      "@foundry-rs/anvil",
      "@foundry-rs/forge",
      "vitest",
      "@biomejs/biome",
      "solc",
      "@temporalio/testing",
    ]) {
      expect(manifest.dependencies).not.toHaveProperty(lab);
      await expect(access(join(installed, "node_modules", lab))).rejects.toThrow();
    }
    expect(manifest.engines.node).toBe(">=22.18");
    expect((await readdir(join(installed, "dist", "cli"))).filter((name) => name.endsWith(".ts"))).toEqual(
      [],
    );
    const help = await daotrain(["--help"], [bin]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("verify");
  });

  it("downloads and verifies a released model from the installed command", async () => {
    const out = join(work, "installed-download");
    const result = await daotrain(["download", model.runId, ...chain(), "--out", out, "--json"], [bin]);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { root: string }).root).toBe(model.root);
    const verified = await daotrain(["verify", out, "--run", model.runId, ...chain()], [bin]);
    expect(verified.code, verified.stderr).toBe(0);
  });
});
