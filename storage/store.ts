/** An object in a checkpoint store: its key (a relative path, `/`-separated) and its size. */
export interface ObjectInfo {
  key: string;
  bytes: number;
}

export interface TransferOptions {
  signal?: AbortSignal;
  /** Called with each chunk's byte count as it lands, for progress bars and throughput. */
  onBytes?: (bytes: number) => void;
}

export interface DownloadOptions extends TransferOptions {
  /** Refuse an object larger than this (ObjectTooLargeError) before fetching any of it. */
  maxBytes?: number;
}

export interface DownloadResult extends ObjectInfo {
  /** Bytes that were already in the file from an earlier, interrupted download. */
  resumedFrom: number;
}

/**
 * Where checkpoints live: a local directory (the embedded default) or an S3-compatible bucket.
 * Keys are relative paths; a written object becomes visible only once it is complete.
 */
export interface CheckpointStore {
  /** The store's own URI (`file:///…` or `s3://bucket/prefix`), for messages. */
  readonly uri: string;
  /** The URI of one object in this store. */
  uriOf(key: string): string;
  putFile(key: string, path: string, options?: TransferOptions): Promise<ObjectInfo>;
  putBytes(key: string, bytes: Uint8Array): Promise<ObjectInfo>;
  /** Reads a small object (a manifest) whole; refuses one larger than `maxBytes`. */
  getBytes(key: string, maxBytes?: number): Promise<Uint8Array>;
  /** The object's size, or undefined when there is none under that key. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /**
   * Writes the object into the file at `path`. When the file already holds a prefix of the
   * object (an interrupted download), only the rest is fetched and appended; the file's length
   * is always a valid prefix, so a download can be interrupted at any moment and resumed.
   */
  downloadToFile(key: string, path: string, options?: DownloadOptions): Promise<DownloadResult>;
  list(prefix?: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
}

export const DEFAULT_MAX_SMALL_OBJECT_BYTES = 16 * 1024 * 1024;

export class ObjectNotFoundError extends Error {
  override readonly name = "ObjectNotFoundError";
  readonly uri: string;
  constructor(uri: string) {
    super(`no object at ${uri}: check the URI, or that the checkpoint was published to this store`);
    this.uri = uri;
  }
}

/** The store could not be reached or refused the request after every retry. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  readonly uri: string;
  constructor(uri: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`store ${uri} failed: ${reason}; check the endpoint, credentials and network, then retry`, {
      cause,
    });
    this.uri = uri;
  }
}

export class ObjectTooLargeError extends Error {
  override readonly name = "ObjectTooLargeError";
  readonly bytes: number;
  constructor(uri: string, bytes: number, maxBytes: number, what = "a manifest") {
    super(`object ${uri} is ${bytes} bytes, more than the ${maxBytes} allowed for ${what}`);
    this.bytes = bytes;
  }
}

export class InvalidKeyError extends Error {
  override readonly name = "InvalidKeyError";
  constructor(key: string) {
    super(`invalid object key ${JSON.stringify(key)}: use a relative path without '..', '.' or empty parts`);
  }
}

/** Keys come from manifests, which are untrusted: refuse anything that could leave the store. */
export function checkKey(key: string): string {
  const parts = key.split("/");
  const bad = key.length === 0 || parts.some((part) => part === "" || part === "." || part === "..");
  if (bad || key.includes("\\") || key.includes("\0")) throw new InvalidKeyError(key);
  return key;
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ENOENT";
}
