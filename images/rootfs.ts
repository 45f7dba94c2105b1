import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, realpath } from "node:fs/promises";
import { join, relative } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One entry of an image's root filesystem: a host file copied in, literal content, or an empty folder. */
export type RootfsEntry =
  | { kind: "file"; path: string; source: string; mode: number }
  | { kind: "content"; path: string; content: string; mode: number }
  | { kind: "dir"; path: string; mode: number };

/** The program and every shared library `ldd` says it loads, each at the path the loader looks for it. */
export async function programWithLibraries(program: string, imagePath: string): Promise<RootfsEntry[]> {
  const source = await realpath(program);
  const { stdout } = await run("ldd", [source]);
  const libraries = stdout
    .split("\n")
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
  const entries: RootfsEntry[] = [{ kind: "file", path: imagePath, source, mode: 0o755 }];
  for (const library of libraries)
    entries.push({ kind: "file", path: library, source: await realpath(library), mode: 0o755 });
  return entries;
}

/** A folder's files under `imageDir`, without nested node_modules (their own entries), maps or typings. */
export async function packageFiles(hostDir: string, imageDir: string): Promise<RootfsEntry[]> {
  const entries: RootfsEntry[] = [];
  for (const dirent of await readdir(hostDir, { recursive: true, withFileTypes: true })) {
    const source = join(dirent.parentPath, dirent.name);
    const path = relative(hostDir, source);
    if (!dirent.isFile() || path.split("/").includes("node_modules") || LEFT_OUT.test(path)) continue;
    entries.push({ kind: "file", path: join(imageDir, path), source, mode: 0o644 });
  }
  return entries;
}
const LEFT_OUT = /(\.map|\.d\.[cm]?ts)$/;

/**
 * The entries by image path, later ones replacing earlier ones (a library two programs share is
 * one file), sorted, so that the same inputs always stage the same tree.
 */
export function normalise(entries: readonly RootfsEntry[]): RootfsEntry[] {
  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** sha256 over every entry's path, kind, mode and content, plus `extra` (the Containerfile, tool versions). */
export async function contentHash(
  entries: readonly RootfsEntry[],
  extra: readonly string[],
): Promise<string> {
  const hash = createHash("sha256");
  for (const part of extra) hash.update(`${part}\0`);
  for (const entry of entries) {
    hash.update(`${entry.kind}\0${entry.path}\0${entry.mode.toString(8)}\0`);
    if (entry.kind === "file") hash.update(await readFile(entry.source));
    else if (entry.kind === "content") hash.update(entry.content);
    hash.update("\0");
  }
  return hash.digest("hex");
}
