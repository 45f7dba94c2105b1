import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

/**
 * A hashing thread (started by hashFiles.ts): receives file paths, streams each through sha256
 * with one reused buffer, so memory stays flat whatever the file size, and answers with the
 * file's size and digest. Synchronous reads are right here: this thread does nothing else.
 */
export interface HashRequest {
  readonly id: number;
  readonly path: string;
}
export type HashReply =
  | { readonly id: number; readonly bytes: number; readonly sha256: string }
  | { readonly id: number; readonly error: string };

const chunk = Buffer.allocUnsafe((workerData as { chunkBytes: number }).chunkBytes);

function hashFile(path: string): { bytes: number; sha256: string } {
  const fd = openSync(path, "r");
  try {
    const hash = createHash("sha256");
    let bytes = 0;
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) {
      hash.update(n === chunk.length ? chunk : chunk.subarray(0, n));
      bytes += n;
    }
    return { bytes, sha256: hash.digest("hex") };
  } finally {
    closeSync(fd);
  }
}

parentPort!.on("message", ({ id, path }: HashRequest) => {
  let reply: HashReply;
  try {
    reply = { id, ...hashFile(path) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort!.postMessage(reply);
});
