import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { openForAppend, resumableLength } from "./partialFile.ts";
import { type RetryPolicy, withRetries } from "./retry.ts";
import {
  type CheckpointStore,
  checkKey,
  DEFAULT_MAX_SMALL_OBJECT_BYTES,
  type DownloadOptions,
  type DownloadResult,
  type ObjectInfo,
  ObjectNotFoundError,
  ObjectTooLargeError,
  StoreUnavailableError,
  type TransferOptions,
} from "./store.ts";
import { formatStoreUri } from "./uri.ts";

export interface S3StoreOptions {
  /** An S3-compatible endpoint (`http://127.0.0.1:7070`); AWS's own when omitted. */
  endpoint?: string;
  region?: string;
  /** Static keys; the SDK's default chain (environment, profile, instance role) when omitted. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style addressing (`endpoint/bucket/key`), which most self-hosted servers need. */
  forcePathStyle?: boolean;
  /** Size of multipart-upload parts and of ranged download parts (S3's minimum is 5 MiB). */
  partBytes?: number;
  /** Parts in flight at once, per object. */
  concurrency?: number;
  /** Every request's retries (the SDK's strategy), and a ranged read whose body breaks off. */
  retry?: RetryPolicy;
}

const MiB = 1024 * 1024;
export const DEFAULT_PART_BYTES = 16 * MiB;
export const DEFAULT_CONCURRENCY = 4;
const defaults = {
  partBytes: DEFAULT_PART_BYTES,
  concurrency: DEFAULT_CONCURRENCY,
  retry: { attempts: 5, initialDelayMs: 200 },
};

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(error: unknown): boolean {
  return statusOf(error) === 404 || (error as Error).name === "NoSuchKey";
}

/**
 * A ranged read whose answer began but whose body broke off (or came short): the SDK retries
 * requests, not bodies it has handed over, so this one is retried here.
 */
class PartCutShortError extends Error {
  override readonly name = "PartCutShortError";
}

/** [start, end) byte ranges of `partBytes` covering from `offset` to `total`. */
export function partRanges(offset: number, total: number, partBytes: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = offset; start < total; start += partBytes)
    ranges.push([start, Math.min(total, start + partBytes)]);
  return ranges;
}

/**
 * Runs `produce(i)` for i in [0, count) with at most `concurrency` in flight and hands the
 * results to `consume` strictly in order, so a file written by `consume` grows as a prefix.
 */
async function orderedPipeline<T>(
  count: number,
  concurrency: number,
  produce: (index: number) => Promise<T>,
  consume: (value: T) => Promise<void>,
): Promise<void> {
  const inFlight = new Map<number, Promise<T>>();
  let next = 0;
  try {
    for (let index = 0; index < count; index++) {
      while (next < count && inFlight.size < concurrency) {
        const promise = produce(next);
        promise.catch(() => {}); // awaited in order below; a failure ahead must not go unhandled
        inFlight.set(next++, promise);
      }
      const value = await inFlight.get(index)!;
      inFlight.delete(index);
      await consume(value);
    }
  } finally {
    await Promise.allSettled(inFlight.values());
  }
}

/** A checkpoint store in an S3-compatible bucket under an optional prefix. */
export class S3Store implements CheckpointStore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly partBytes: number;
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;

  constructor(bucket: string, prefix: string, options: S3StoreOptions = {}) {
    this.bucket = bucket;
    this.prefix = prefix;
    this.uri = formatStoreUri({ kind: "s3", bucket, prefix });
    this.partBytes = Math.max(5 * MiB, options.partBytes ?? defaults.partBytes);
    this.concurrency = Math.max(1, options.concurrency ?? defaults.concurrency);
    this.retry = options.retry ?? defaults.retry;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
      credentials: options.credentials,
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      // The SDK's standard retries (refused or reset connections, 429, 5xx, timeouts, throttling),
      // with this store's attempts and exponential backoff with jitter.
      retryStrategy: new ConfiguredRetryStrategy(this.retry.attempts, (attempt) => {
        const delay = this.retry.initialDelayMs * 2 ** (attempt - 1);
        return delay / 2 + Math.random() * delay;
      }),
      // Checksums beyond what S3 requires are an AWS extension that not every S3-compatible
      // server implements; integrity is checked end to end by the manifest's sha256 anyway.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  uriOf(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  private objectKey(key: string): string {
    return this.prefix ? `${this.prefix}/${checkKey(key)}` : checkKey(key);
  }

  /**
   * Runs one request (the SDK retries it); what still fails becomes ObjectNotFoundError or
   * StoreUnavailableError naming the object.
   */
  private call<T>(key: string, request: () => Promise<T>): Promise<T> {
    return this.callOn(this.uriOf(key), request);
  }

  /** Like call, for a request about `uri` rather than one object (a listing). */
  private async callOn<T>(uri: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw storeError(uri, error);
    }
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<ObjectInfo> {
    await this.call(key, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: bytes })),
    );
    return { key, bytes: bytes.length };
  }

  /**
   * The SDK's managed upload: one PUT for a file of up to `partBytes`, else a multipart upload of
   * `partBytes` parts with `concurrency` in flight, each read into memory so that a failed part
   * can be sent again, the upload aborted on failure (an abandoned one keeps its parts' cost).
   */
  async putFile(key: string, path: string, options: TransferOptions = {}): Promise<ObjectInfo> {
    const bytes = (await stat(path)).size;
    const abortController = new AbortController();
    const abort = () => abortController.abort(options.signal?.reason);
    options.signal?.throwIfAborted();
    options.signal?.addEventListener("abort", abort, { once: true });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: createReadStream(path) },
      partSize: this.partBytes,
      queueSize: this.concurrency,
      leavePartsOnError: false,
      abortController,
    });
    let reported = 0;
    upload.on("httpUploadProgress", (progress) => {
      const loaded = progress.loaded ?? reported;
      if (loaded > reported) options.onBytes?.(loaded - reported);
      reported = Math.max(reported, loaded);
    });
    try {
      await upload.done();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw storeError(this.uriOf(key), error);
    } finally {
      options.signal?.removeEventListener("abort", abort);
    }
    return { key, bytes };
  }

  async getBytes(key: string, maxBytes = DEFAULT_MAX_SMALL_OBJECT_BYTES): Promise<Uint8Array> {
    const info = await this.stat(key);
    if (!info) throw new ObjectNotFoundError(this.uriOf(key));
    if (info.bytes > maxBytes) throw new ObjectTooLargeError(this.uriOf(key), info.bytes, maxBytes);
    return await this.getRange(key, 0, info.bytes, undefined, undefined);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    return (await this.head(key))?.info;
  }

  private async head(key: string): Promise<{ info: ObjectInfo; etag: string | undefined } | undefined> {
    try {
      const answer = await this.call(key, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })),
      );
      return { info: { key, bytes: answer.ContentLength ?? 0 }, etag: answer.ETag };
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * Fetches bytes [start, end) whole into `into` (a buffer of at least end − start bytes, or a
   * new one); `etag` pins the object version so that parts of two different uploads are never
   * mixed into one file. A body that breaks off is fetched again.
   */
  private async getRange(
    key: string,
    start: number,
    end: number,
    etag: string | undefined,
    signal: AbortSignal | undefined,
    into: Buffer = Buffer.allocUnsafe(end - start),
  ): Promise<Buffer> {
    const length = end - start;
    if (length <= 0) return into.subarray(0, 0);
    const read = async () => {
      const answer = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Range: `bytes=${start}-${end - 1}`,
          IfMatch: etag,
        }),
        { abortSignal: signal },
      );
      return await readBodyInto(answer.Body as Readable | undefined, into, length, start);
    };
    try {
      return await withRetries(this.retry, signal, (error) => error instanceof PartCutShortError, read);
    } catch (error) {
      throw storeError(this.uriOf(key), error);
    }
  }

  /**
   * Ranged parts of `partBytes`, `concurrency` in flight, each streamed into a buffer of a
   * fixed pool (no per-part allocation for the garbage collector) and written in order, so that
   * the file is always a prefix of the object.
   */
  async downloadToFile(key: string, path: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    const head = await this.head(key);
    if (!head) throw new ObjectNotFoundError(this.uriOf(key));
    const { info, etag } = head;
    // The ranges below stop at the size seen here, under its ETag: nothing past it is fetched.
    if (options.maxBytes !== undefined && info.bytes > options.maxBytes)
      throw new ObjectTooLargeError(this.uriOf(key), info.bytes, options.maxBytes, "this object");
    const resumedFrom = await resumableLength(path, info.bytes);
    const file = await openForAppend(path, resumedFrom);
    try {
      const ranges = partRanges(resumedFrom, info.bytes, this.partBytes);
      const free = Array.from({ length: Math.min(this.concurrency, ranges.length) }, () =>
        Buffer.allocUnsafe(this.partBytes),
      );
      let position = resumedFrom;
      await orderedPipeline(
        ranges.length,
        free.length,
        async (index) => {
          const [start, end] = ranges[index]!;
          const buffer = free.pop()!;
          return { buffer, bytes: await this.getRange(key, start, end, etag, options.signal, buffer) };
        },
        async ({ buffer, bytes }) => {
          await file.write(bytes, 0, bytes.length, position);
          position += bytes.length;
          free.push(buffer);
          options.onBytes?.(bytes.length);
        },
      );
    } finally {
      await file.close();
    }
    return { ...info, resumedFrom };
  }

  async list(prefix = ""): Promise<ObjectInfo[]> {
    const base = this.prefix ? `${this.prefix}/` : "";
    const objects: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.callOn(`${this.uri}/${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${base}${prefix}`, ContinuationToken }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) objects.push({ key: object.Key.slice(base.length), bytes: object.Size ?? 0 });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.call(key, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })),
    );
  }
}

/** What a failed request means for the caller: a missing object, or a store out of reach. */
function storeError(uri: string, error: unknown): Error {
  if (isMissing(error)) return new ObjectNotFoundError(uri);
  if ((error as Error).name === "AbortError") return error as Error;
  return new StoreUnavailableError(uri, error);
}

/**
 * Streams a response body of exactly `length` bytes into the start of `into`. Plain `data`
 * events: an async iterator costs a promise per chunk, which shows at hundreds of MiB/s.
 */
function readBodyInto(
  body: Readable | undefined,
  into: Buffer,
  length: number,
  start: number,
): Promise<Buffer> {
  if (!body) return Promise.reject(new PartCutShortError(`range from ${start} came without a body`));
  return new Promise((resolve, reject) => {
    let filled = 0;
    const fail = (error: Error) => {
      body.destroy();
      reject(error);
    };
    body.on("data", (chunk: Buffer) => {
      if (filled + chunk.length > length) {
        fail(new PartCutShortError(`range from ${start} returned more than the ${length} bytes asked for`));
        return;
      }
      chunk.copy(into, filled);
      filled += chunk.length;
    });
    body.once("error", (error) =>
      reject(
        error.name === "AbortError"
          ? error
          : new PartCutShortError(`range from ${start} broke off after ${filled} of ${length} bytes`, {
              cause: error,
            }),
      ),
    );
    body.once("end", () => {
      if (filled === length) resolve(into.subarray(0, length));
      else reject(new PartCutShortError(`range from ${start} returned ${filled} bytes, expected ${length}`));
    });
  });
}
