import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { type FileDigest, hashPool } from "./hashPool.ts";

export interface FileHash extends FileDigest {
  readonly path: string;
}

export interface HashFilesOptions {
  /** Below this many bytes in all, hash on the calling thread: handing work to threads costs more. */
  readonly threadThresholdBytes?: number;
}

const DEFAULT_THREAD_THRESHOLD = 32 << 20;

/**
 * sha256 of each file, in the order given. Large inputs go to the process's hashing threads
 * (`hashPool.ts`, one per core), largest file first, each thread taking the next file when it is
 * done and streaming it through a fixed buffer; memory is flat in the total size. One file is
 * hashed by one thread: sha256 is sequential, so a checkpoint hashes in parallel through its shards.
 */
export async function hashFiles(
  paths: readonly string[],
  options: HashFilesOptions = {},
): Promise<FileHash[]> {
  const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total < (options.threadThresholdBytes ?? DEFAULT_THREAD_THRESHOLD)) {
    const results: FileHash[] = [];
    for (const path of paths) results.push(await hashFileHere(path));
    return results;
  }
  const largestFirst = paths.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]!);
  const digests = await hashPool.hashAll(largestFirst.map((i) => paths[i]!));
  const results: FileHash[] = new Array(paths.length);
  for (const [k, i] of largestFirst.entries()) results[i] = { path: paths[i]!, ...digests[k]! };
  return results;
}

async function hashFileHere(path: string): Promise<FileHash> {
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: 1 << 20 }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    },
  );
  return { path, bytes, sha256: hash.digest("hex") };
}
