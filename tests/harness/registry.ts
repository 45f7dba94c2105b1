import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

const run = promisify(execFile);

/** The images bootstrap/bootstrap.sh builds from images/ (`.daotrain/images/<name>`). */
export type BuiltImageName = "trainer" | "worker" | "pause";

export interface BuiltImage {
  name: BuiltImageName;
  /** The OCI layout buildah wrote (tag = name). */
  layout: string;
  /** `sha256:…` of the image manifest: the same for the same inputs. */
  digest: string;
}

/** The image the bootstrap built for this checkout, or an error saying how to build it. */
export async function builtImage(name: BuiltImageName): Promise<BuiltImage> {
  const dir = fileURLToPath(new URL(`../../.daotrain/images/${name}/`, import.meta.url));
  const digest = await readFile(join(dir, "digest"), "utf8").then(
    (text) => text.trim(),
    () => {
      throw new Error(`the ${name} image is not built: run bootstrap/bootstrap.sh --only images`);
    },
  );
  return { name, layout: join(dir, "oci"), digest };
}

/**
 * A real OCI registry (Debian's docker-registry, the CNCF distribution server) on a free loopback
 * port, plain HTTP, storing in a temp dir; images are pushed into it from their OCI layouts with
 * skopeo and named by digest, as run specs name them.
 */
export interface ImageRegistry {
  /** `127.0.0.1:<port>`, the registry part of image references. */
  host: string;
  /** Pushes a built image; resolves with its reference by digest, `<host>/daotrain/<name>@sha256:…`. */
  push(image: BuiltImage): Promise<string>;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<ImageRegistry> {
  const [registryBin, skopeo] = await Promise.all([requireTool("docker-registry"), requireTool("skopeo")]);
  const dir = await mkdtemp(join(tmpdir(), "daotrain-registry-"));
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} } }`,
      `http: { addr: "${host}" }`,
      "",
    ].join("\n"),
  );
  // skopeo reads a signature policy; pushing our own image needs none checked.
  const policy = join(dir, "policy.json");
  await writeFile(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  let registry: ManagedProcess | undefined;
  try {
    registry = startProcess({ name: "docker-registry", command: registryBin, args: ["serve", config] });
    await waitUntilReady(
      "docker-registry",
      async () => ((await fetch(`http://${host}/v2/`)).ok ? true : undefined),
      { timeoutMs: 30_000, process: registry },
    );
  } catch (error) {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const running = registry;
  return {
    host,
    async push(image) {
      const repository = `daotrain/${image.name}`;
      await run(skopeo, [
        "copy",
        "--quiet",
        "--policy",
        policy,
        "--dest-tls-verify=false",
        "--preserve-digests",
        `oci:${image.layout}:${image.name}`,
        `docker://${host}/${repository}:${image.digest.slice("sha256:".length, 19)}`,
      ]);
      const manifest = await fetch(`http://${host}/v2/${repository}/manifests/${image.digest}`, {
        method: "HEAD",
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      if (!manifest.ok)
        throw new Error(`the registry does not hold ${repository}@${image.digest} after the push`);
      return `${host}/${repository}@${image.digest}`;
    },
    async stop() {
      await running.stop(3_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
