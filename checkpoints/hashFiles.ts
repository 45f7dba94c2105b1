import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { pipeline } from "node:stream/promises";
import { Worker } from "node:worker_threads";
import type { HashReply } from "./hashWorker.ts";

export interface FileHash {
  readonly path: string;
  readonly bytes: number;
  /** sha256 of the file's bytes, 64 lowercase hex digits (as `sha256sum` prints it). */
  readonly sha256: string;
}

export interface HashFilesOptions {
  /** Hashing threads; default: one per available core, at most one per file. */
  readonly threads?: number;
  /** Read size per thread; the only memory hashing holds per thread. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** Below this many bytes in all, hash on the calling thread: starting threads costs more. */
  readonly threadThresholdBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 1 << 20;
const DEFAULT_THREAD_THRESHOLD = 32 << 20;

/**
 * sha256 of each file, in the order given. Large inputs are spread over worker threads (largest
 * file first, each thread taking the next file when it is done), each streaming its file through
 * a fixed buffer; memory is flat in the total size. One file is hashed by one thread: sha256 is
 * sequential, so a checkpoint hashes in parallel through its shards.
 */
export async function hashFiles(
  paths: readonly string[],
  options: HashFilesOptions = {},
): Promise<FileHash[]> {
  const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (total < (options.threadThresholdBytes ?? DEFAULT_THREAD_THRESHOLD)) {
    const results: FileHash[] = [];
    for (const path of paths) results.push(await hashFileHere(path, chunkBytes));
    return results;
  }
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), paths.length));
  const largestFirst = paths.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]!);
  return hashOnThreads(paths, largestFirst, threads, chunkBytes);
}

async function hashFileHere(path: string, chunkBytes: number): Promise<FileHash> {
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: chunkBytes }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    },
  );
  return { path, bytes, sha256: hash.digest("hex") };
}

function hashOnThreads(
  paths: readonly string[],
  order: readonly number[],
  threads: number,
  chunkBytes: number,
): Promise<FileHash[]> {
  const results: FileHash[] = new Array(paths.length);
  const workers: Worker[] = [];
  const released = new Set<Worker>();
  let next = 0;
  let done = 0;
  let settled = false;
  return new Promise<FileHash[]>((resolve, reject) => {
    const release = (worker: Worker) => {
      released.add(worker);
      void worker.terminate();
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      for (const w of workers) release(w);
      reject(error);
    };
    const feed = (worker: Worker) => {
      const id = order[next++];
      if (id === undefined) release(worker);
      else worker.postMessage({ id, path: paths[id] });
    };
    for (let t = 0; t < threads; t++) {
      const worker = new Worker(new URL("./hashWorker.ts", import.meta.url), { workerData: { chunkBytes } });
      workers.push(worker);
      worker.on("error", fail);
      worker.on("exit", (code) => {
        if (!released.has(worker))
          fail(new Error(`a hashing thread exited with code ${code} before its work was done`));
      });
      worker.on("message", (reply: HashReply) => {
        if ("error" in reply) return fail(new Error(`hashing ${paths[reply.id]}: ${reply.error}`));
        results[reply.id] = { path: paths[reply.id]!, bytes: reply.bytes, sha256: reply.sha256 };
        if (++done === paths.length) {
          settled = true;
          resolve(results);
        }
        feed(worker);
      });
      feed(worker);
    }
  });
}
