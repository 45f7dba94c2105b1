import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidInputError } from "../spec/errors.ts";

/**
 * The local directory a trainer-contract URI names. Only `file:///absolute/path` for now; this is
 * the one place to delegate to storage/ (download to a local directory, upload after) once remote
 * stores reach the trainer.
 */
export function localPathOf(uri: string, variable: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidInputError("trainer environment", [
      `${variable}: ${uri} is not a URI; use file:///absolute/path`,
    ]);
  }
  if (url.protocol !== "file:") {
    throw new InvalidInputError("trainer environment", [
      `${variable}: ${url.protocol} URIs are not supported yet; use file:///absolute/path`,
    ]);
  }
  const path = fileURLToPath(url);
  if (!isAbsolute(path))
    throw new InvalidInputError("trainer environment", [`${variable}: ${uri} is not absolute`]);
  return path;
}
