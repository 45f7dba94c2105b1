import type { z } from "zod";
import { formatZodError } from "../spec/errors.ts";
import { ManifestInvalidError, StoreUnreachableError } from "./fetchErrors.ts";
import { ObjectNotFoundError, StoreUnavailableError } from "./store.ts";

/** A store that cannot be read, or lacks what was asked for, fails the download as unreachable. */
export function storeFailure(error: unknown): never {
  if (error instanceof StoreUnavailableError || error instanceof ObjectNotFoundError) {
    throw new StoreUnreachableError(error.message, { cause: error });
  }
  throw error;
}

/** A manifest read from a store is untrusted: anything but JSON of the schema is refused, naming the fields. */
export function parseManifest<S extends z.ZodType>(bytes: Uint8Array, uri: string, schema: S): z.infer<S> {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new ManifestInvalidError(`manifest ${uri} is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new ManifestInvalidError(`manifest ${uri} is invalid: ${formatZodError(parsed.error).join("; ")}`);
  }
  return parsed.data;
}
