import { execFile, spawn } from "node:child_process";
import { access, cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
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
  const result = await daotrain(["download", model.runId, ...chain(), "--out", downloaded, "--json"]);
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
    expect(answer.encoded[1]).toEqual(Array.from(Buffer.from("Ésope — 寓言 🦊", "utf8")));
    expect(answer.decoded).toEqual([PROMPT, "Ésope — 寓言 🦊"]);
  });

  it("--hf-cache places it so that from_pretrained(name, revision=root) loads it with the network off", async () => {
    const cache = join(work, "hf-cache");
    const result = await daotrain(["download", model.runId, ...chain(), "--hf-cache", cache, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const repoFolder = join(cache, "models--daotrain--release-test-lm");
    expect(await readFile(join(repoFolder, "refs", "main"), "utf8")).toBe(model.root);
    expect((await readdir(join(repoFolder, "blobs"))).every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(
      true,
    );
    const windows = await heldOutWindows(1);
    const [fromCache, fromDir] = await Promise.all([
      transformers(
        {
          model: "daotrain/release-test-lm",
          revision: model.root,
          cache_dir: cache,
          windows,
          prompt: PROMPT,
          new_tokens: 8,
        },
        { HF_HUB_OFFLINE: "1" },
      ),
      transformers({ model: downloaded, windows, prompt: PROMPT, new_tokens: 8 }),
    ]);
    expect(fromCache.logits).toEqual(fromDir.logits);
    expect(fromCache.generated).toEqual(fromDir.generated);
  });
});
