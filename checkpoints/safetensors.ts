import { type FileHandle, open } from "node:fs/promises";
import { z } from "zod";
import { type DType, dtypeBytes, elementCount, type Tensor } from "./tensor.ts";

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header padded with spaces to a multiple of 8, then the tensors'
 * bytes, contiguous and without holes, at `data_offsets` relative to the end of the header.
 */
export class SafetensorsFormatError extends Error {
  override readonly name: string = "SafetensorsFormatError";
  constructor(file: string, problem: string) {
    super(`${file}: not a valid safetensors file: ${problem}`);
  }
}

export interface TensorEntry {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** [begin, end) in bytes from the start of the data section. */
  readonly offsets: readonly [number, number];
}
export interface SafetensorsHeader {
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the data section starts in the file: 8 + header length. */
  readonly dataStart: number;
}

/** Refuses headers beyond this size, as the reference implementation does; callers may ask for less. */
export const MAX_HEADER_BYTES = 100_000_000;
const ALIGNMENT = 8;

const HeaderEntry = z
  .object({
    dtype: z.enum(Object.keys(dtypeBytes) as [DType, ...DType[]]),
    shape: z.array(z.number().int().min(0)),
    data_offsets: z.tuple([z.number().int().min(0), z.number().int().min(0)]),
  })
  .strict();

/** Orders tensors for writing: by name, so that equal tensors always give equal bytes. */
export function tensorOrder(tensors: Readonly<Record<string, Tensor>>): string[] {
  return Object.keys(tensors).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The 8-byte length prefix and the padded JSON header for these tensors, in `tensorOrder`. */
export function encodeHeader(
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of tensorOrder(tensors)) {
    const t = tensors[name]!;
    const size = elementCount(t.shape) * dtypeBytes[t.dtype];
    if (t.bytes.byteLength !== size) {
      throw new RangeError(
        `tensor ${name}: ${t.dtype} [${t.shape}] needs ${size} bytes, has ${t.bytes.byteLength}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / ALIGNMENT) * ALIGNMENT;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/** The byte size of a safetensors file holding these tensors. */
export function safetensorsSize(
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = {},
): number {
  let size = encodeHeader(tensors, metadata).byteLength;
  for (const t of Object.values(tensors)) size += t.bytes.byteLength;
  return size;
}

/** Parses and checks a header: dtypes, shapes against offsets, a data section without holes. */
export function decodeHeader(file: string, json: Buffer, fileSize: number): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString("utf8"));
  } catch (error) {
    throw new SafetensorsFormatError(file, `header is not JSON (${(error as Error).message})`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SafetensorsFormatError(file, "header is not a JSON object");
  }
  const dataStart = 8 + json.length;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === "__metadata__") {
      const parsed = z.record(z.string(), z.string()).safeParse(value);
      if (!parsed.success) throw new SafetensorsFormatError(file, "__metadata__ must map strings to strings");
      metadata = parsed.data;
      continue;
    }
    const parsed = HeaderEntry.safeParse(value);
    if (!parsed.success)
      throw new SafetensorsFormatError(file, `tensor ${name}: ${parsed.error.issues[0]?.message}`);
    const { dtype, shape, data_offsets } = parsed.data;
    const [begin, end] = data_offsets;
    if (end - begin !== elementCount(shape) * dtypeBytes[dtype]) {
      throw new SafetensorsFormatError(
        file,
        `tensor ${name}: offsets [${begin}, ${end}) do not fit ${dtype} [${shape}]`,
      );
    }
    tensors.set(name, { dtype, shape, offsets: [begin, end] });
  }
  const spans = [...tensors.values()].map((t) => t.offsets).sort((a, b) => a[0] - b[0]);
  let expected = 0;
  for (const [begin, end] of spans) {
    if (begin !== expected)
      throw new SafetensorsFormatError(file, `data section has a hole or overlap at byte ${begin}`);
    expected = end;
  }
  if (dataStart + expected !== fileSize) {
    throw new SafetensorsFormatError(
      file,
      `data section is ${fileSize - dataStart} bytes, tensors cover ${expected}`,
    );
  }
  return { tensors, metadata, dataStart };
}

/** Reads only the header of a safetensors file. */
export async function readSafetensorsHeader(
  file: string,
  maxHeaderBytes = MAX_HEADER_BYTES,
): Promise<SafetensorsHeader> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    return await readHeaderFrom(handle, file, size, maxHeaderBytes);
  } finally {
    await handle.close();
  }
}

/**
 * Reads and checks the header of the safetensors file open as `handle` (of `size` bytes): the
 * length prefix is checked against the file and `maxHeaderBytes` before the header is read.
 */
export async function readHeaderFrom(
  handle: FileHandle,
  file: string,
  size: number,
  maxHeaderBytes: number,
): Promise<SafetensorsHeader & { readonly raw: Buffer }> {
  if (size < 8) throw new SafetensorsFormatError(file, "shorter than its 8-byte header length");
  const raw = Buffer.alloc(8);
  await handle.read(raw, 0, 8, 0);
  const length = headerLength(file, raw, size, maxHeaderBytes);
  const json = Buffer.alloc(length);
  const { bytesRead } = await handle.read(json, 0, length, 8);
  if (bytesRead !== length) throw new SafetensorsFormatError(file, "shorter than its header");
  return { ...decodeHeader(file, json, size), raw: Buffer.concat([raw, json]) };
}

/** A header longer than the reader allows: refused before it is read. */
export class SafetensorsHeaderTooLargeError extends SafetensorsFormatError {
  override readonly name = "SafetensorsHeaderTooLargeError";
}

/** The header length the 8-byte prefix states, checked against the file's size and the limit. */
function headerLength(file: string, prefix: Uint8Array, fileSize: number, maxHeaderBytes: number): number {
  const length = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (length > BigInt(maxHeaderBytes)) {
    throw new SafetensorsHeaderTooLargeError(
      file,
      `header length ${length} exceeds the ${maxHeaderBytes}-byte limit for this file`,
    );
  }
  if (length > BigInt(fileSize - 8)) {
    throw new SafetensorsFormatError(file, `header length ${length} exceeds the file's ${fileSize} bytes`);
  }
  return Number(length);
}

/** Parses a whole safetensors file held in memory; tensors are views into `bytes`. */
export function parseSafetensors(
  file: string,
  bytes: Uint8Array,
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new SafetensorsFormatError(file, "shorter than its 8-byte header length");
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = headerLength(file, view, bytes.byteLength, MAX_HEADER_BYTES);
  const header = decodeHeader(file, view.subarray(8, 8 + length), bytes.byteLength);
  const tensors: Record<string, Tensor> = {};
  for (const [name, entry] of header.tensors) {
    const [begin, end] = entry.offsets;
    tensors[name] = {
      dtype: entry.dtype,
      shape: entry.shape,
      bytes: view.subarray(header.dataStart + begin, header.dataStart + end),
    };
  }
  return { tensors, metadata: header.metadata };
}
