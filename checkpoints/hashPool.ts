import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { siblingModule } from "../spec/sourceModule.ts";
import type { HashReply } from "./hashWorker.ts";

/** What a hashing thread found for one file. */
export interface FileDigest {
  readonly bytes: number;
  /** sha256 of the file's bytes, 64 lowercase hex digits (as `sha256sum` prints it). */
  readonly sha256: string;
}

interface Job {
  readonly path: string;
  readonly resolve: (digest: FileDigest) => void;
  readonly reject: (error: Error) => void;
}

interface HashThread {
  readonly worker: Worker;
  job: Job | undefined;
}

const READ_CHUNK_BYTES = 1 << 20;
const IDLE_MS = 30_000;

/**
 * The hashing threads, shared by every caller in the process. Threads start on first use (at most
 * one per core) and stay while work keeps coming, so a long-lived worker that verifies checkpoint
 * after checkpoint starts them once: starting one costs about 40 ms of CPU, a tenth of what
 * hashing a 256 MiB shard does. An idle thread does not keep the process alive, and after
 * `IDLE_MS` without work all of them end. A thread that dies fails only the file it was on.
 */
class HashPool {
  readonly #size: number;
  readonly #threads = new Set<HashThread>();
  readonly #queue: Job[] = [];
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  /** Hashes `paths` in the order given to the queue; resolves in `paths`' order. */
  async hashAll(paths: readonly string[]): Promise<FileDigest[]> {
    const jobs: Job[] = [];
    const digests = paths.map(
      (path) =>
        new Promise<FileDigest>((resolve, reject) => {
          jobs.push({ path, resolve, reject });
        }),
    );
    this.#queue.push(...jobs);
    this.#dispatch();
    try {
      return await Promise.all(digests);
    } catch (error) {
      // One file failed: the batch is lost, so its files still waiting need no thread.
      for (const job of jobs) {
        const waiting = this.#queue.indexOf(job);
        if (waiting >= 0) this.#queue.splice(waiting, 1);
      }
      for (const digest of digests) digest.catch(() => {});
      throw error;
    }
  }

  #dispatch(): void {
    clearTimeout(this.#idleTimer);
    for (const thread of this.#threads) {
      if (this.#queue.length === 0) break;
      if (thread.job === undefined) this.#assign(thread, this.#queue.shift()!);
    }
    while (this.#queue.length > 0 && this.#threads.size < this.#size) {
      this.#assign(this.#start(), this.#queue.shift()!);
    }
    if ([...this.#threads].every((t) => t.job === undefined)) {
      this.#idleTimer = setTimeout(() => this.#endIdleThreads(), IDLE_MS).unref();
    }
  }

  #assign(thread: HashThread, job: Job): void {
    thread.job = job;
    thread.worker.ref();
    thread.worker.postMessage({ path: job.path });
  }

  #start(): HashThread {
    const worker = new Worker(siblingModule("./hashWorker", import.meta.url), {
      workerData: { chunkBytes: READ_CHUNK_BYTES },
    });
    const thread: HashThread = { worker, job: undefined };
    this.#threads.add(thread);
    worker.on("message", (reply: HashReply) => {
      const job = thread.job!;
      thread.job = undefined;
      worker.unref();
      if ("error" in reply) job.reject(new Error(`hashing ${job.path}: ${reply.error}`));
      else job.resolve(reply);
      this.#dispatch();
    });
    const lose = (reason: string) => {
      if (!this.#threads.delete(thread)) return;
      thread.job?.reject(new Error(`hashing ${thread.job.path}: ${reason}`));
      this.#dispatch();
    };
    worker.on("error", (error) => lose(`the hashing thread failed: ${error.message}`));
    worker.on("exit", (code) => lose(`the hashing thread exited with code ${code}`));
    return thread;
  }

  #endIdleThreads(): void {
    for (const thread of this.#threads) {
      if (thread.job !== undefined) continue;
      this.#threads.delete(thread);
      void thread.worker.terminate();
    }
  }
}

export const hashPool = new HashPool(availableParallelism());
