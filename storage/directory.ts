import { readdir } from "node:fs/promises";
import { join, sep } from "node:path";
import type { CheckpointStore, ObjectInfo, TransferOptions } from "./store.ts";

/**
 * Uploads every file of a checkpoint directory under `prefix`, `manifest.json` last, so that a
 * reader who finds the manifest finds every shard it names.
 */
export async function putDirectory(
  store: CheckpointStore,
  directory: string,
  prefix: string,
  options: TransferOptions = {},
): Promise<ObjectInfo[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) =>
      join(entry.parentPath, entry.name)
        .slice(directory.length + 1)
        .split(sep)
        .join("/"),
    )
    .sort((a, b) => Number(a === "manifest.json") - Number(b === "manifest.json") || (a < b ? -1 : 1));
  const uploaded: ObjectInfo[] = [];
  for (const file of files) {
    const key = prefix ? `${prefix}/${file}` : file;
    uploaded.push(await store.putFile(key, join(directory, ...file.split("/")), options));
  }
  return uploaded;
}
