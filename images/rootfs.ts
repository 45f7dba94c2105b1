import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, realpath } from "node:fs/promises";
import { arch } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One entry of an image's root filesystem: a host file copied in, literal or generated content, or an empty folder. */
export type RootfsEntry =
  | { kind: "file"; path: string; source: string; mode: number }
  | { kind: "content"; path: string; content: string; mode: number }
  /** Made only when staging; a function of other entries (which the hash covers), not hashed itself. */
  | { kind: "generated"; path: string; mode: number; generate: () => Promise<string> }
  | { kind: "dir"; path: string; mode: number };

/** Every shared library `ldd` says `binary` loads, each at the path the loader looks for it. */
export async function librariesOf(binary: string): Promise<RootfsEntry[]> {
  const { stdout } = await run("ldd", [binary]);
  const libraries = stdout
    .split("\n")
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
  return await Promise.all(
    libraries.map(
      async (library): Promise<RootfsEntry> => ({
        kind: "file",
        path: library,
        source: await realpath(library),
        mode: 0o755,
      }),
    ),
  );
}

/** The program, at `imagePath`, and the shared libraries it loads. */
export async function programWithLibraries(program: string, imagePath: string): Promise<RootfsEntry[]> {
  const source = await realpath(program);
  return [{ kind: "file", path: imagePath, source, mode: 0o755 }, ...(await librariesOf(source))];
}

/**
 * The shared libraries the native addons (`.node` files) among `entries` load beyond Node's own
 * (Temporal's core bridge needs librt, say). An addon built for another libc is skipped: `ldd`
 * refuses it and Node would never load it here either.
 */
export async function addonLibraries(entries: readonly RootfsEntry[]): Promise<RootfsEntry[]> {
  const addons = entries.filter(
    (entry): entry is Extract<RootfsEntry, { kind: "file" }> =>
      entry.kind === "file" && entry.path.endsWith(".node"),
  );
  const found = await Promise.all(addons.map((addon) => librariesOf(addon.source).catch(() => [])));
  return found.flat();
}

/**
 * A folder's files under `imageDir`, without nested node_modules (their own entries), maps,
 * typings, or addons prebuilt for another platform.
 */
export async function packageFiles(hostDir: string, imageDir: string): Promise<RootfsEntry[]> {
  const entries: RootfsEntry[] = [];
  for (const dirent of await readdir(hostDir, { recursive: true, withFileTypes: true })) {
    const source = join(dirent.parentPath, dirent.name);
    const path = relative(hostDir, source);
    if (!dirent.isFile() || LEFT_OUT.test(path)) continue;
    const folders = path.split("/");
    if (folders.includes("node_modules") || folders.some(isOtherPlatform)) continue;
    entries.push({ kind: "file", path: join(imageDir, path), source, mode: 0o644 });
  }
  return entries;
}
const LEFT_OUT = /(\.map|\.d\.[cm]?ts)$/;

/**
 * A folder named for a target triple other than the image's (Linux, glibc, this machine's
 * architecture): Temporal's core bridge ships its addon prebuilt for five platforms in
 * `releases/<triple>/` (30 MB each) and the image loads one.
 */
function isOtherPlatform(folder: string): boolean {
  return TARGET_TRIPLE.test(folder) && folder !== IMAGE_TRIPLE;
}
const TARGET_TRIPLE =
  /^(x86_64|aarch64|i686|armv7)-(apple-darwin|pc-windows-msvc|unknown-linux-(gnu|musl)(eabihf)?)$/;
const IMAGE_TRIPLE = `${arch() === "arm64" ? "aarch64" : "x86_64"}-unknown-linux-gnu`;

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
