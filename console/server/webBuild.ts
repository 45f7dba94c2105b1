import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";

// The web app is built by Vite into an ignored folder and rebuilt only when one of the files the
// last build read changed: the build records every source module it bundled (with its sha256)
// the lockfile that pins every package and this file (the recipe), so a start checks ~100 small hashes instead of
// bundling again (seconds on 2 cores).

const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
const webRoot = join(projectRoot, "console", "web");
export const DEFAULT_WEB_DIR = join(projectRoot, ".daotrain", "console-web");
const INPUTS_FILE = ".inputs.json";
const LOCKFILE = "package-lock.json";
/** The build's own recipe: a change here rebuilds too. */
const RECIPE = relative(projectRoot, fileURLToPath(import.meta.url));

const BuildInputs = z.object({ files: z.record(z.string(), z.string()) });

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(join(projectRoot, path)))
    .digest("hex");

async function isUpToDate(webDir: string): Promise<boolean> {
  try {
    const { files } = BuildInputs.parse(JSON.parse(await readFile(join(webDir, INPUTS_FILE), "utf8")));
    const current = await Promise.all(
      Object.entries(files).map(async ([path, hash]) => (await sha256(path)) === hash),
    );
    return current.length > 0 && current.every(Boolean);
  } catch {
    return false;
  }
}

/** The project's own source files among a bundle's module ids (no packages, no virtual modules). */
function sourceFiles(moduleIds: Iterable<string>): string[] {
  const files = new Set<string>([LOCKFILE, RECIPE]);
  for (const id of moduleIds) {
    const path = id.split("?")[0] ?? "";
    if (!isAbsolute(path)) continue;
    const inProject = relative(projectRoot, path);
    if (inProject.startsWith("..") || inProject.split("/").includes("node_modules")) continue;
    files.add(inProject);
  }
  return [...files].sort();
}

/**
 * Runs Vite into `outDir` and records the inputs there. Called in a child process whose
 * NODE_ENV is "production": Vite and the React plugin take the mode from it when it is set
 * (vitest sets "test"), and the development build is 3.5× the size.
 */
async function build(outDir: string): Promise<void> {
  const [vite, { default: react }] = await Promise.all([import("vite"), import("@vitejs/plugin-react")]);
  const bundled = new Set<string>();
  await vite.build({
    root: webRoot,
    configFile: false,
    mode: "production",
    base: "./",
    // Warnings about Node built-ins in packages the page never calls (ox's worker pool) are noise here.
    logLevel: "error",
    plugins: [
      react(),
      {
        name: "daotrain-record-inputs",
        buildEnd() {
          for (const id of this.getModuleIds()) bundled.add(id);
        },
      },
    ],
    build: { outDir, emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 2048 },
  });
  const files = sourceFiles(bundled);
  const hashes = Object.fromEntries(await Promise.all(files.map(async (f) => [f, await sha256(f)] as const)));
  await writeFile(join(outDir, INPUTS_FILE), `${JSON.stringify({ files: hashes }, null, 2)}\n`);
}

/**
 * The built web app's folder, built first when missing or stale. Builds into a temporary folder
 * and renames it into place, so a server never serves half a build.
 */
export async function ensureWebBuild(
  options: { webDir?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const webDir = options.webDir ?? DEFAULT_WEB_DIR;
  if (await isUpToDate(webDir)) return webDir;
  options.log?.("building the console's web app with Vite (again only when its sources change)");
  const partial = `${webDir}.partial.${process.pid}`;
  try {
    await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), partial], {
      env: { ...process.env, NODE_ENV: "production" },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(
      `building the console's web app failed: ${stderr.split("\n").slice(-5).join(" ") || String(error)}`,
    );
  }
  await rm(webDir, { recursive: true, force: true });
  await rename(partial, webDir);
  return webDir;
}

if (import.meta.main) {
  const outDir = process.argv[2];
  if (!outDir) throw new Error("usage: node console/server/webBuild.ts <outDir>");
  await build(outDir);
}
