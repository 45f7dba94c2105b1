import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { resumableLength } from "./partialFile.ts";
import {
  type CheckpointStore,
  checkKey,
  DEFAULT_MAX_SMALL_OBJECT_BYTES,
  type DownloadOptions,
  type DownloadResult,
  isMissing,
  type ObjectInfo,
  ObjectNotFoundError,
  ObjectTooLargeError,
  type TransferOptions,
} from "./store.ts";
import { formatStoreUri } from "./uri.ts";

const temporarySuffix = ".daotrain-tmp-";

/** Counts bytes as they pass, for progress. */
function counter(onBytes: ((bytes: number) => void) | undefined): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
}

/** A checkpoint store in a local directory: the embedded default, and what tests compare with. */
export class LocalDirectoryStore implements CheckpointStore {
  readonly uri: string;
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
    this.uri = formatStoreUri({ kind: "file", directory });
  }

  uriOf(key: string): string {
    return formatStoreUri({ kind: "file", directory: this.pathOf(key) });
  }

  private pathOf(key: string): string {
    return join(this.directory, ...checkKey(key).split("/"));
  }

  /** Writes under a temporary name in the same folder, then renames, so readers never see half. */
  private async writeAtomically(
    key: string,
    write: (temporary: string) => Promise<void>,
  ): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}${temporarySuffix}${randomBytes(6).toString("hex")}`;
    try {
      await write(temporary);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return { key, bytes: (await stat(target)).size };
  }

  async putFile(key: string, path: string, options: TransferOptions = {}): Promise<ObjectInfo> {
    const info = await this.writeAtomically(key, (temporary) => copyFile(path, temporary));
    options.onBytes?.(info.bytes);
    return info;
  }

  putBytes(key: string, bytes: Uint8Array): Promise<ObjectInfo> {
    return this.writeAtomically(key, (temporary) => writeFile(temporary, bytes));
  }

  async getBytes(key: string, maxBytes = DEFAULT_MAX_SMALL_OBJECT_BYTES): Promise<Uint8Array> {
    const info = await this.stat(key);
    if (!info) throw new ObjectNotFoundError(this.uriOf(key));
    if (info.bytes > maxBytes) throw new ObjectTooLargeError(this.uriOf(key), info.bytes, maxBytes);
    return await readFile(this.pathOf(key));
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, bytes: info.size } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async downloadToFile(key: string, path: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    const object = await this.stat(key);
    if (!object) throw new ObjectNotFoundError(this.uriOf(key));
    if (options.maxBytes !== undefined && object.bytes > options.maxBytes)
      throw new ObjectTooLargeError(this.uriOf(key), object.bytes, options.maxBytes, "this object");
    const resumedFrom = await resumableLength(path, object.bytes);
    if (resumedFrom < object.bytes) {
      await pipeline(
        // Up to the size seen above, however the file grows meanwhile.
        createReadStream(this.pathOf(key), { start: resumedFrom, end: object.bytes - 1 }),
        counter(options.onBytes),
        createWriteStream(path, { flags: resumedFrom > 0 ? "a" : "w" }),
        { signal: options.signal },
      );
    }
    return { ...object, resumedFrom };
  }

  async list(prefix = ""): Promise<ObjectInfo[]> {
    let entries: string[];
    try {
      entries = await readdir(this.directory, { recursive: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const objects: ObjectInfo[] = [];
    for (const entry of entries.sort()) {
      const key = entry.split(sep).join("/");
      if (!key.startsWith(prefix) || key.includes(temporarySuffix)) continue;
      const info = await this.stat(key);
      if (info) objects.push(info);
    }
    return objects;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
