import { open, stat } from "node:fs/promises";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
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
  retry?: RetryPolicy;
}

const MiB = 1024 * 1024;
const defaults = { partBytes: 16 * MiB, concurrency: 4, retry: { attempts: 5, initialDelayMs: 200 } };

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(error: unknown): boolean {
  return statusOf(error) === 404 || (error as Error).name === "NoSuchKey";
}

/** Worth another try: no answer at all (connection refused or reset, a body cut short), 408, 429, 5xx. */
function isTransient(error: unknown): boolean {
  if ((error as Error).name === "AbortError" || isMissing(error)) return false;
  const status = statusOf(error);
  return status === undefined || status === 408 || status === 429 || status >= 500;
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
      // One policy for every request, including those whose body is read after the answer.
      maxAttempts: 1,
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
   * Runs one request with retries; what still fails becomes ObjectNotFoundError or
   * StoreUnavailableError naming the object. The request may read the response body too, so a
   * body that breaks off mid-read is retried like a refused connection.
   */
  private call<T>(key: string, request: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.callOn(this.uriOf(key), request, signal);
  }

  /** Like call, for a request about `uri` rather than one object (a listing). */
  private async callOn<T>(uri: string, request: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await withRetries(this.retry, signal, isTransient, request);
    } catch (error) {
      if (isMissing(error)) throw new ObjectNotFoundError(uri);
      if ((error as Error).name === "AbortError") throw error;
      throw new StoreUnavailableError(uri, error);
    }
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<ObjectInfo> {
    await this.call(key, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: bytes })),
    );
    return { key, bytes: bytes.length };
  }

  async putFile(key: string, path: string, options: TransferOptions = {}): Promise<ObjectInfo> {
    const bytes = (await stat(path)).size;
    const file = await open(path, "r");
    try {
      if (bytes <= this.partBytes) {
        const body = await readRange(file, 0, bytes);
        await this.call(
          key,
          () =>
            this.client.send(
              new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: body }),
              {
                abortSignal: options.signal,
              },
            ),
          options.signal,
        );
        options.onBytes?.(bytes);
      } else {
        await this.putMultipart(key, file, bytes, options);
      }
    } finally {
      await file.close();
    }
    return { key, bytes };
  }

  /** Parts are read into memory one window at a time, so that a failed part can be sent again. */
  private async putMultipart(
    key: string,
    file: Awaited<ReturnType<typeof open>>,
    bytes: number,
    options: TransferOptions,
  ): Promise<void> {
    const Key = this.objectKey(key);
    const created = await this.call(key, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key })),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new StoreUnavailableError(this.uriOf(key), new Error("no UploadId in the answer"));
    const ranges = partRanges(0, bytes, this.partBytes);
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    try {
      await orderedPipeline(
        ranges.length,
        this.concurrency,
        async (index) => {
          const [start, end] = ranges[index]!;
          const body = await readRange(file, start, end - start);
          const PartNumber = index + 1;
          const answer = await this.call(
            key,
            () =>
              this.client.send(
                new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber, Body: body }),
                {
                  abortSignal: options.signal,
                },
              ),
            options.signal,
          );
          if (!answer.ETag)
            throw new StoreUnavailableError(this.uriOf(key), new Error(`no ETag for part ${PartNumber}`));
          options.onBytes?.(body.length);
          return { ETag: answer.ETag, PartNumber };
        },
        async (part) => {
          parts.push(part);
        },
      );
      await this.call(key, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      );
    } catch (error) {
      // An abandoned upload keeps its parts (and their cost) until aborted.
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }))
        .catch(() => {});
      throw error;
    }
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
   * Fetches bytes [start, end) whole; `etag` pins the object version so that parts of two
   * different uploads are never mixed into one file.
   */
  private async getRange(
    key: string,
    start: number,
    end: number,
    etag: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array();
    return await this.call(
      key,
      async () => {
        const answer = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.objectKey(key),
            Range: `bytes=${start}-${end - 1}`,
            IfMatch: etag,
          }),
          { abortSignal: signal },
        );
        const body = await answer.Body?.transformToByteArray();
        if (!body || body.length !== end - start) {
          throw new Error(
            `range ${start}-${end - 1} returned ${body?.length ?? 0} bytes, expected ${end - start}`,
          );
        }
        return body;
      },
      signal,
    );
  }

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
      let position = resumedFrom;
      await orderedPipeline(
        ranges.length,
        this.concurrency,
        (index) => this.getRange(key, ranges[index]![0], ranges[index]![1], etag, options.signal),
        async (chunk) => {
          await file.write(chunk, 0, chunk.length, position);
          position += chunk.length;
          options.onBytes?.(chunk.length);
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

async function readRange(
  file: Awaited<ReturnType<typeof open>>,
  start: number,
  length: number,
): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, start + filled);
    if (bytesRead === 0)
      throw new Error(`file ended at ${start + filled} while reading ${length} bytes from ${start}`);
    filled += bytesRead;
  }
  return buffer;
}
