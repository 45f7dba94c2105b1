import { InvalidInputError } from "../spec/errors.ts";
import { type RunSpec, runIdOf } from "../spec/runSpec.ts";
import {
  dataUriBytes,
  MAX_INLINE_RUN_SPEC_BYTES,
  MAX_RUN_SPEC_BYTES,
  runSpecDataUri,
  runSpecDocument,
  runSpecKey,
  verifiedRunSpec,
} from "../spec/specDocument.ts";
import { type OpenStoreOptions, openStore } from "./open.ts";
import { ObjectTooLargeError } from "./store.ts";
import { parseStoreUri, splitObjectUri } from "./uri.ts";

// Run specs where every worker can read them: inline on-chain when small, else in a store under
// their run id. Reading checks the document against the run id the DAO approved.

/** The spec's document could not be fetched (store down, object missing): retrying may help. */
export class RunSpecUnreadableError extends Error {
  override readonly name = "RunSpecUnreadableError";
  constructor(uri: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`cannot read the run spec at ${uri}: ${reason}`, { cause });
  }
}

export interface PublishRunSpecOptions extends OpenStoreOptions {
  /** A store every worker reads (the run store): the spec goes there, under its run id. */
  storeUri?: string;
}

/**
 * Publishes the spec's canonical JSON and returns the URI a proposal records: the object
 * `specs/<runId>.json` in `storeUri` when given, else an inline `data:` URI when the spec is
 * small enough; a large spec without a store is refused, naming the option that fixes it.
 */
export async function publishRunSpec(spec: RunSpec, options: PublishRunSpecOptions = {}): Promise<string> {
  const document = runSpecDocument(spec);
  if (options.storeUri) {
    const store = openStore(options.storeUri, options);
    const key = runSpecKey(runIdOf(spec));
    await store.putBytes(key, Buffer.from(document));
    return store.uriOf(key);
  }
  const bytes = Buffer.byteLength(document);
  if (bytes > MAX_INLINE_RUN_SPEC_BYTES)
    throw new InvalidInputError("run spec", [
      `${bytes} bytes of canonical JSON is more than the ${MAX_INLINE_RUN_SPEC_BYTES} that travel inline; publish it in the run store with --store s3://bucket/prefix (or DAOTRAIN_STORE_URI)`,
    ]);
  return runSpecDataUri(spec);
}

export interface ReadRunSpecOptions extends OpenStoreOptions {
  /** Accept `file://` URIs: a file only this machine can read, so off unless asked for. */
  allowFile?: boolean;
}

/**
 * Fetches the spec an approved run names and checks it hashes to `runId`: YAML or JSON, inline
 * (`data:`) or an object in a store (`s3://`, and `file://` when allowed). A URI that is not
 * allowed, a document that is not a valid spec or that is another run's is InvalidInputError or
 * RunSpecMismatchError (final); a store that does not answer is RunSpecUnreadableError.
 */
export async function readRunSpec(
  uri: string,
  runId: string,
  options: ReadRunSpecOptions = {},
): Promise<RunSpec> {
  const source = `run spec at ${uri.length > 120 ? `${uri.slice(0, 117)}...` : uri}`;
  return verifiedRunSpec(await runSpecBytes(uri, source, options), runId, source);
}

async function runSpecBytes(uri: string, source: string, options: ReadRunSpecOptions): Promise<Uint8Array> {
  if (uri.startsWith("data:")) return dataUriBytes(uri, source);
  let location: ReturnType<typeof parseStoreUri>;
  let object: { storeUri: string; key: string };
  try {
    location = parseStoreUri(uri);
    object = splitObjectUri(uri);
  } catch (error) {
    const problems = error instanceof InvalidInputError ? error.problems : [String(error)];
    throw new InvalidInputError(source, [
      ...problems,
      "a spec URI is data:, s3:// or (when allowed) file://",
    ]);
  }
  if (location.kind === "file" && !options.allowFile)
    throw new InvalidInputError(source, [
      "a file:// spec is on one machine's disk and other workers cannot read it; propose with `daotrain propose run` (inline or in the run store), or set DAOTRAIN_ALLOW_FILE_SPECS=true on a single-machine deployment",
    ]);
  try {
    return await openStore(object.storeUri, options).getBytes(object.key, MAX_RUN_SPEC_BYTES);
  } catch (error) {
    if (error instanceof ObjectTooLargeError) throw new InvalidInputError(source, [error.message]);
    throw new RunSpecUnreadableError(uri, error);
  }
}
