import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** The directory already holds something else than what is being written there. */
export class DirectoryExistsError extends Error {
  override readonly name = "DirectoryExistsError";
  constructor(dir: string, holds: string) {
    super(`${dir} already holds ${holds}; write to a new directory or remove it first`);
  }
}

/**
 * Builds a directory under a sibling temporary name (`<dir>.partial.<pid>.<random>`) and renames
 * it into place only once `build` has finished (files written, synced and hashed). If `dir` already
 * holds a complete result with the same root, that one stands and the call succeeds, so a retried
 * writer is harmless; a different one is refused. An empty `dir` is replaced.
 */
export async function publishDirectory<T extends { readonly root: string }>(
  dir: string,
  build: (temp: string) => Promise<T>,
  existingRoot: (dir: string) => Promise<string | null>,
): Promise<T> {
  await mkdir(dirname(dir), { recursive: true });
  const temp = join(
    dirname(dir),
    `${basename(dir)}.partial.${process.pid}.${randomBytes(4).toString("hex")}`,
  );
  await mkdir(temp);
  try {
    const result = await build(temp);
    try {
      await rename(temp, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
      const root = await existingRoot(dir).catch(() => null);
      if (root === result.root) return result;
      throw new DirectoryExistsError(dir, root ?? `${(await readdir(dir)).length} other files`);
    }
    await syncDirectory(dirname(dir));
    return result;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** Writes a file and syncs it, refusing to overwrite. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(path: string) {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } catch {
    // Some filesystems cannot sync a directory; the rename itself is still atomic.
  } finally {
    await handle.close();
  }
}
