import { open, stat, truncate } from "node:fs/promises";
import { isMissing } from "./store.ts";

/**
 * How many bytes of an interrupted download in `path` can be kept: its length when that is a
 * prefix-sized file of the object, else 0 (the file is emptied).
 */
export async function resumableLength(path: string, objectBytes: number): Promise<number> {
  let length: number;
  try {
    length = (await stat(path)).size;
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
  if (length <= objectBytes) return length;
  await truncate(path, 0);
  return 0;
}

/** Appends to `path` at exactly `offset`, for stores that fetch ranges out of band. */
export async function openForAppend(path: string, offset: number) {
  const handle = await open(path, offset > 0 ? "r+" : "w");
  await handle.truncate(offset);
  return handle;
}
