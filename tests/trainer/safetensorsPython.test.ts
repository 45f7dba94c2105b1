import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  floatTensor,
  NO_PARENT,
  readCheckpoint,
  toFloat32,
  writeCheckpoint,
} from "../../checkpoints/index.ts";

const run = promisify(execFile);
const script = new URL("./readSafetensors.py", import.meta.url).pathname;

/**
 * The independent reader is Python's `safetensors` (the reference Rust parser) with numpy, from
 * PyPI: installed here when missing; the suite is skipped, saying so, only where there is no pip.
 */
async function pythonReader(): Promise<string | null> {
  const ready = () =>
    run("python3", ["-c", "import safetensors, numpy"]).then(
      () => true,
      () => false,
    );
  if (await ready()) return null;
  if (
    !(await run("python3", ["-m", "pip", "--version"]).then(
      () => true,
      () => false,
    ))
  ) {
    return "python3 -m pip is not available, so the Python safetensors reader cannot be installed";
  }
  await run(
    "python3",
    ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "safetensors", "numpy"],
    {
      timeout: 300_000,
    },
  );
  if (!(await ready())) throw new Error("pip installed safetensors and numpy but python3 cannot import them");
  return null;
}

const skipReason = await pythonReader();
if (skipReason) console.warn(`skipping the Python safetensors reader test: ${skipReason}`);

describe.skipIf(skipReason !== null)("an independent safetensors reader (Python safetensors + numpy)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "daotrain-python-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tensors = {
    "h.0.attn.c_attn.weight": floatTensor(
      [4, 12],
      Float32Array.from({ length: 48 }, (_, i) => (i - 24) / 7),
    ),
    "h.0.ln_1.bias": floatTensor([5], Float32Array.of(0, -1.5, 3.25, 1e-3, 65000), "F16"),
    wte: floatTensor([3, 2], Float32Array.of(1, -2, 0.1, 1e20, -3.5, 7e-5), "BF16"),
  };

  it.each([
    ["one file", 1 << 20],
    ["two shards", 256],
  ])("reads the same tensors from a daotrain checkpoint in %s", async (_label, maxShardBytes) => {
    const out = join(dir, `ckpt-${maxShardBytes}`);
    const manifest = await writeCheckpoint(
      out,
      tensors,
      {
        runId: `0x${"cd".repeat(32)}`,
        round: 0,
        parentRoot: NO_PARENT,
        metrics: { loss: null, valLoss: null, tokens: 0, steps: 0 },
        metadata: { format: "pt", "daotrain.note": "independent reader" },
      },
      { maxShardBytes },
    );
    const { stdout } = await run("python3", [script, ...manifest.shards.map((s) => join(out, s.path))]);
    const python = JSON.parse(stdout) as {
      tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
      metadata: Record<string, string>;
    };
    const ours = await readCheckpoint(out);
    expect(Object.keys(python.tensors).sort()).toEqual(Object.keys(tensors).sort());
    expect(python.metadata).toEqual({ format: "pt", "daotrain.note": "independent reader" });
    for (const [name, tensor] of Object.entries(ours.tensors)) {
      expect(python.tensors[name]).toEqual({
        dtype: tensor.dtype,
        shape: [...tensor.shape],
        values: Array.from(toFloat32(tensor)),
      });
    }
  });
});
