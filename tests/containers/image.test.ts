import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { arch } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type BuiltImage, builtImage, type ImageRegistry, startRegistry } from "../harness/registry.ts";

const run = promisify(execFile);

interface OciManifest {
  config: { digest: string };
  layers: { digest: string }[];
}

async function blob(image: BuiltImage, digest: string): Promise<string> {
  return join(image.layout, "blobs", ...digest.split(":"));
}

/** The paths in an image's one layer. */
async function layerPaths(image: BuiltImage): Promise<string[]> {
  const manifest = JSON.parse(await readFile(await blob(image, image.digest), "utf8")) as OciManifest;
  expect(manifest.layers).toHaveLength(1);
  const { stdout } = await run("tar", ["-tzf", await blob(image, manifest.layers[0]!.digest)], {
    maxBuffer: 64 << 20,
  });
  return stdout.split("\n");
}

let image: BuiltImage;
let registry: ImageRegistry;

beforeAll(async () => {
  image = await builtImage("trainer");
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

describe("the trainer image", () => {
  test("holds Node, a sh and the trainer's own files and packages, and no chain, Temporal or Kubernetes code", async () => {
    const paths = await layerPaths(image);
    expect(paths).toEqual(
      expect.arrayContaining(["usr/local/bin/node", "bin/sh", "opt/daotrain/trainer/main.ts"]),
    );
    const folders = new Set(
      paths
        .filter((p) => p.startsWith("opt/daotrain/") && !p.includes("node_modules"))
        .map((p) => p.split("/")[2]),
    );
    expect([...folders].filter((f) => f && !f.endsWith(".json")).sort()).toEqual([
      "checkpoints",
      "datasets",
      "model",
      "spec",
      "storage",
      "trainer",
    ]);
    const forbidden = paths.filter((p) =>
      /node_modules\/(viem|@aragon|@temporalio|@kubernetes|ethers|prom-client)\//.test(p),
    );
    expect(forbidden).toEqual([]);
    expect(paths.filter((p) => !p.includes("node_modules") && p.endsWith(".test.ts"))).toEqual([]);
  });

  test("runs as 65532 in /opt/daotrain with the trainer as its entry point, every timestamp at 0", async () => {
    const manifest = JSON.parse(await readFile(await blob(image, image.digest), "utf8")) as OciManifest;
    const config = JSON.parse(await readFile(await blob(image, manifest.config.digest), "utf8"));
    expect(config.config).toMatchObject({
      User: "65532:65532",
      WorkingDir: "/opt/daotrain",
      Entrypoint: ["node", "trainer/main.ts"],
    });
    expect(config.created).toBe("1970-01-01T00:00:00Z");
  });

  test("is pushed to the local registry under the digest it was built with", async () => {
    const reference = await registry.push(image);
    expect(reference).toBe(`${registry.host}/daotrain/trainer@${image.digest}`);
  });
});

describe("the worker image", () => {
  test("holds the modules the worker loads by path and its workflows prebundled, and the core bridge's addon for its own platform only", async () => {
    const paths = await layerPaths(await builtImage("worker"));
    expect(paths).toEqual(
      expect.arrayContaining([
        "opt/daotrain/workers/main.ts",
        "opt/daotrain/checkpoints/hashWorker.ts",
        "opt/daotrain/workers/failureConverter.ts",
        "opt/daotrain/workflows/index.ts",
        "opt/daotrain/workflows.bundle.js",
      ]),
    );
    const addons = paths.filter((p) =>
      p.startsWith("opt/daotrain/node_modules/@temporalio/core-bridge/releases/"),
    );
    expect(addons.filter((p) => p.endsWith(".node"))).toEqual([
      `opt/daotrain/node_modules/@temporalio/core-bridge/releases/${arch() === "arm64" ? "aarch64" : "x86_64"}-unknown-linux-gnu/index.node`,
    ]);
  });
});
