import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidInputError } from "../spec/errors.ts";

export type StoreLocation =
  | { kind: "file"; directory: string }
  | { kind: "s3"; bucket: string; prefix: string };

// Bucket names as S3 accepts them: 3–63 lowercase letters, digits, dots and hyphens.
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function invalid(uri: string, problem: string): InvalidInputError {
  return new InvalidInputError("store URI", [`${JSON.stringify(uri)}: ${problem}`]);
}

/** Parses `file:///absolute/dir` or `s3://bucket/optional/prefix`; anything else is refused. */
export function parseStoreUri(uri: string): StoreLocation {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(uri, "not a URI; use file:///absolute/dir or s3://bucket/prefix");
  }
  if (url.protocol === "file:") {
    if (url.host !== "") throw invalid(uri, "a file URI has no host; use file:///absolute/dir");
    return { kind: "file", directory: fileURLToPath(url).replace(/\/+$/, "") || "/" };
  }
  if (url.protocol === "s3:") {
    if (!bucketPattern.test(url.hostname))
      throw invalid(uri, `bucket ${JSON.stringify(url.hostname)} is not a valid S3 bucket name`);
    if (url.search || url.hash) throw invalid(uri, "an s3 URI has no query or fragment");
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
    return { kind: "s3", bucket: url.hostname, prefix };
  }
  throw invalid(uri, `unsupported scheme ${url.protocol.replace(/:$/, "")}; use file:// or s3://`);
}

export function formatStoreUri(location: StoreLocation): string {
  if (location.kind === "file") return pathToFileURL(location.directory).href;
  return location.prefix ? `s3://${location.bucket}/${location.prefix}` : `s3://${location.bucket}`;
}

/** Splits an object URI (a manifest's) into the URI of the store that holds it and its key. */
export function splitObjectUri(uri: string): { storeUri: string; key: string } {
  const location = parseStoreUri(uri);
  const path = location.kind === "file" ? location.directory : location.prefix;
  const slash = path.lastIndexOf("/");
  const key = path.slice(slash + 1);
  if (key === "") throw invalid(uri, "names a store, not an object inside it");
  const rest = slash < 0 ? "" : path.slice(0, slash);
  const storeUri =
    location.kind === "file"
      ? formatStoreUri({ kind: "file", directory: rest || "/" })
      : formatStoreUri({ kind: "s3", bucket: location.bucket, prefix: rest });
  return { storeUri, key };
}
