import { LocalDirectoryStore } from "./local.ts";
import { S3Store, type S3StoreOptions } from "./s3.ts";
import type { CheckpointStore } from "./store.ts";
import { parseStoreUri } from "./uri.ts";

export interface OpenStoreOptions {
  /** Used for `s3://` URIs; without it the SDK reads AWS_* variables and profiles. */
  s3?: S3StoreOptions;
}

/**
 * The S3 options the environment gives: `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for a
 * self-hosted server (path-style then), the rest from the SDK's usual chain.
 */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3StoreOptions {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return endpoint ? { endpoint, forcePathStyle: true } : {};
}

/** Opens the store a URI names: `file:///absolute/dir` or `s3://bucket/prefix`. */
export function openStore(uri: string, options: OpenStoreOptions = {}): CheckpointStore {
  const location = parseStoreUri(uri);
  if (location.kind === "file") return new LocalDirectoryStore(location.directory);
  return new S3Store(location.bucket, location.prefix, options.s3 ?? s3OptionsFromEnv());
}
