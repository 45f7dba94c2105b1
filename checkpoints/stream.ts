import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Bytes32 } from "../spec/runSpec.ts";
import { type CheckpointManifest, CheckpointUnreadableError } from "./manifest.ts";
import { MAX_HEADER_BYTES, readHeaderFrom, SafetensorsFormatError } from "./safetensors.ts";
import type { DType, Tensor } from "./tensor.ts";
import { type CheckpointVerification, compareShards } from "./verify.ts";

/** Where one tensor's bytes lie, and their sha256 as they were first read. */
export interface TensorLocation {
  readonly file: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Offset of its first byte in the file. */
  readonly start: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface StreamedCheckpoint {
  /** The shards' recomputed sizes, sha256s and root against the manifest (and expectedRoot). */
  readonly verification: CheckpointVerification;
  /** Every tensor of every shard read, by name (empty when a shard's size was wrong). */
  readonly tensors: ReadonlyMap<string, TensorLocation>;
  /** The first shard's safetensors `__metadata__`. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface StreamCheckpointOptions {
  readonly expectedRoot?: Bytes32;
  /** Refuse a shard whose JSON header is longer than this, before reading it. */
  readonly maxHeaderBytes?: number;
  /**
   * Read every tensor into one buffer, reused: a tensor's bytes are valid only during its
   * `onTensor` call. For a caller that measures what it reads and keeps none of it; it spares the
   * garbage collector a checkpoint's worth of buffers.
   */
  readonly transient?: boolean;
}

/**
 * Reads a checkpoint's shards once, front to back, hashing exactly the bytes it reads, and hands
 * each tensor to `onTensor` as it comes (its bytes are a fresh copy the callback may keep, unless
 * `transient`), so a checkpoint is judged while it is read and never held whole. Shards whose size
 * on disk is not the manifest's are not read at all. The caller must use what it was handed only
 * once `verification.ok`: until then the bytes are merely what the files hold. Throws
 * SafetensorsFormatError (or its SafetensorsHeaderTooLargeError) for a malformed shard, and
 * CheckpointUnreadableError for a missing one or a tensor in two shards.
 */
export async function streamCheckpoint(
  dir: string,
  manifest: CheckpointManifest,
  onTensor: (name: string, tensor: Tensor) => void,
  options: StreamCheckpointOptions = {},
): Promise<StreamedCheckpoint> {
  const files = manifest.shards.map((s) => join(dir, s.path));
  const sizes = await Promise.all(
    files.map((file) =>
      stat(file).then(
        (s) => s.size,
        (error: Error) => {
          throw new CheckpointUnreadableError(dir, error.message);
        },
      ),
    ),
  );
  const unread = (i: number) => ({ bytes: sizes[i]!, sha256: "" });
  if (sizes.some((size, i) => size !== manifest.shards[i]!.bytes)) {
    return {
      verification: compareShards(
        manifest,
        sizes.map((_, i) => unread(i)),
        options.expectedRoot,
      ),
      tensors: new Map(),
      metadata: {},
    };
  }
  const tensors = new Map<string, TensorLocation>();
  let metadata: Readonly<Record<string, string>> = {};
  const hashes: { bytes: number; sha256: string }[] = [];
  const buffers = options.transient ? new ScratchBuffer() : undefined;
  for (const [i, file] of files.entries()) {
    const shard = await streamShard(
      file,
      sizes[i]!,
      options.maxHeaderBytes ?? MAX_HEADER_BYTES,
      buffers,
      (name, t) => {
        if (tensors.has(name))
          throw new CheckpointUnreadableError(dir, `tensor ${name} appears in two shards`);
        tensors.set(name, t.location);
        onTensor(name, t.tensor);
      },
    );
    if (i === 0) metadata = shard.metadata;
    hashes.push({ bytes: sizes[i]!, sha256: shard.sha256 });
  }
  return { verification: compareShards(manifest, hashes, options.expectedRoot), tensors, metadata };
}

async function streamShard(
  file: string,
  size: number,
  maxHeaderBytes: number,
  buffers: ScratchBuffer | undefined,
  onTensor: (name: string, t: { tensor: Tensor; location: TensorLocation }) => void,
): Promise<{ sha256: string; metadata: Readonly<Record<string, string>> }> {
  const handle = await open(file, "r");
  try {
    const header = await readHeaderFrom(handle, file, size, maxHeaderBytes);
    const hash = createHash("sha256").update(header.raw);
    const inFileOrder = [...header.tensors].sort((a, b) => a[1].offsets[0] - b[1].offsets[0]);
    for (const [name, entry] of inFileOrder) {
      const start = header.dataStart + entry.offsets[0];
      const length = entry.offsets[1] - entry.offsets[0];
      const bytes = await readExactly(handle, file, start, length, buffers?.take(length));
      hash.update(bytes);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      onTensor(name, {
        tensor: { dtype: entry.dtype, shape: entry.shape, bytes },
        location: { file, dtype: entry.dtype, shape: entry.shape, start, bytes: bytes.byteLength, sha256 },
      });
    }
    return { sha256: hash.digest("hex"), metadata: header.metadata };
  } finally {
    await handle.close();
  }
}

/** One buffer handed out again and again, grown to the largest length asked for. */
class ScratchBuffer {
  #buffer = new Uint8Array(0);

  /** `length` bytes, valid until the next call. */
  take(length: number): Uint8Array {
    if (this.#buffer.length < length) this.#buffer = new Uint8Array(length);
    return this.#buffer.subarray(0, length);
  }
}

/** `length` bytes from `position`, into `into` (of exactly that length) or a new buffer. */
async function readExactly(
  handle: FileHandle,
  file: string,
  position: number,
  length: number,
  into?: Uint8Array,
): Promise<Uint8Array> {
  const bytes = into ?? new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, position + done);
    if (bytesRead === 0) throw new SafetensorsFormatError(file, `ends before byte ${position + length}`);
    done += bytesRead;
  }
  return bytes;
}

/** A tensor's bytes changed on disk between two reads of a checkpoint. */
export class CheckpointChangedError extends Error {
  override readonly name = "CheckpointChangedError";
}

/**
 * Reads one tensor front to back in pieces (`next(bytes)`), from a file handle the caller holds,
 * and checks on `finish()` that the bytes were those hashed when the checkpoint was first
 * streamed: what a second pass computes with is exactly what the first pass verified. Each piece
 * is valid until the next `next` (one buffer, reused).
 */
export class TensorPieces {
  readonly #handle: FileHandle;
  readonly #location: TensorLocation;
  readonly #hash: Hash = createHash("sha256");
  readonly #buffer = new ScratchBuffer();
  #read = 0;

  constructor(handle: FileHandle, location: TensorLocation) {
    this.#handle = handle;
    this.#location = location;
  }

  async next(bytes: number): Promise<Uint8Array> {
    const length = Math.min(bytes, this.#location.bytes - this.#read);
    const piece = await readExactly(
      this.#handle,
      this.#location.file,
      this.#location.start + this.#read,
      length,
      this.#buffer.take(length),
    );
    this.#hash.update(piece);
    this.#read += length;
    return piece;
  }

  finish(): void {
    const digest = this.#hash.digest("hex");
    if (this.#read !== this.#location.bytes || digest !== this.#location.sha256) {
      throw new CheckpointChangedError(
        `${this.#location.file}: a tensor's bytes changed after the checkpoint was verified (sha256 ${digest}, was ${this.#location.sha256})`,
      );
    }
  }
}
