import { link, mkdir, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { hashFiles } from "../checkpoints/hashFiles.ts";
import { InvalidInputError } from "../spec/errors.ts";

/** A Hub repository id (`org/name`) as the Hugging Face cache names its folder. */
export function hfCacheRepoFolder(repoId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(repoId) || repoId.includes(".."))
    throw new InvalidInputError("--hf-repo", [`${repoId} is not a repository id of the form org/name`]);
  return `models--${repoId.replace("/", "--")}`;
}

/** `daotrain/<run name>`, with what a repository name cannot hold replaced by '-'. */
export function defaultRepoId(runName: string): string {
  const name = runName.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") || "run";
  return `daotrain/${name.slice(0, 96)}`;
}

export interface HfCachePlacement {
  readonly repoId: string;
  readonly revision: string;
  /** The snapshot folder: what `from_pretrained(repoId, revision=revision)` reads offline. */
  readonly snapshot: string;
}

/**
 * Moves a verified download into the Hugging Face cache layout under `cacheDir`:
 * `models--<org>--<name>/blobs/<sha256>` holds each file once, `snapshots/<revision>/<file>` links
 * to it, and `refs/<revision>` and `refs/main` name the revision, so that
 * `from_pretrained(repoId, revision=revision, cache_dir=cacheDir)` resolves it with no network.
 * The revision is the checkpoint root; a snapshot already there is replaced.
 */
export async function placeInHfCache(
  verifiedDir: string,
  cacheDir: string,
  repoId: string,
  revision: string,
): Promise<HfCachePlacement> {
  const repo = join(cacheDir, hfCacheRepoFolder(repoId));
  const blobs = join(repo, "blobs");
  const snapshot = join(repo, "snapshots", revision);
  const names = (await readdir(verifiedDir)).sort();
  const hashes = await hashFiles(names.map((name) => join(verifiedDir, name)));
  await mkdir(blobs, { recursive: true });
  const building = `${snapshot}.partial`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  for (const [i, name] of names.entries()) {
    const blob = join(blobs, hashes[i]!.sha256);
    await link(join(verifiedDir, name), blob).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") return rename(join(verifiedDir, name), blob);
    });
    await symlink(relative(snapshot, blob), join(building, name));
  }
  await rm(snapshot, { recursive: true, force: true });
  await rename(building, snapshot);
  await mkdir(join(repo, "refs"), { recursive: true });
  for (const ref of [revision, "main"]) await writeFile(join(repo, "refs", ref), revision);
  await rm(verifiedDir, { recursive: true, force: true });
  return { repoId, revision, snapshot };
}
