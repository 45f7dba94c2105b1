import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { canonicalJson } from "./canonicalJson.ts";
import { InvalidInputError } from "./errors.ts";
import { parseRunSpec, type RunSpec, runIdOf } from "./runSpec.ts";

// A run spec as a document others fetch by URI: its canonical JSON, whose sha256 is the run id,
// so whoever reads it checks it against the id the DAO approved. Pure: reading a URI's bytes is
// storage's (storage/runSpecs.ts).

/** A spec document larger than this is refused before it is parsed (real ones are ~1 KiB). */
export const MAX_RUN_SPEC_BYTES = 64 * 1024;
/** Specs up to this size travel inline on-chain (`data:`); larger ones need a store. */
export const MAX_INLINE_RUN_SPEC_BYTES = 2 * 1024;

/** The published bytes: canonical JSON of the parsed spec (defaults filled), sha256 = run id. */
export function runSpecDocument(spec: RunSpec): string {
  return canonicalJson(spec);
}

/** Where a store keeps a spec: named by its run id, so the name says which bytes belong there. */
export function runSpecKey(runId: string): string {
  return `specs/${runId}.json`;
}

const DATA_URI_PREFIX = "data:application/json;base64,";

/** The spec inline, as the on-chain specUri of a small spec. */
export function runSpecDataUri(spec: RunSpec): string {
  return `${DATA_URI_PREFIX}${Buffer.from(runSpecDocument(spec)).toString("base64")}`;
}

/** The bytes of a `data:` URI (base64 or percent-encoded), bounded before decoding. */
export function dataUriBytes(uri: string, source: string): Buffer {
  const comma = uri.indexOf(",");
  if (!uri.startsWith("data:") || comma < 0)
    throw new InvalidInputError(source, ["not a data: URI (data:<type>[;base64],<body>)"]);
  const body = uri.slice(comma + 1);
  if (body.length > MAX_RUN_SPEC_BYTES * 2)
    throw new InvalidInputError(source, [`inline spec of ${body.length} characters exceeds the bound`]);
  return uri.slice(0, comma).endsWith(";base64")
    ? Buffer.from(body, "base64")
    : Buffer.from(decodeURIComponent(body), "utf8");
}

/** Parses an untrusted spec document, YAML or JSON (JSON is YAML), naming every wrong field. */
export function parseRunSpecText(text: string | Uint8Array, source: string): RunSpec {
  const bytes = typeof text === "string" ? Buffer.byteLength(text) : text.length;
  if (bytes > MAX_RUN_SPEC_BYTES)
    throw new InvalidInputError(source, [`${bytes} bytes; a run spec has at most ${MAX_RUN_SPEC_BYTES}`]);
  const body = typeof text === "string" ? text : Buffer.from(text).toString("utf8");
  let data: unknown;
  try {
    data = parseYaml(body, { maxAliasCount: 0 });
  } catch (error) {
    throw new InvalidInputError(source, [`not YAML or JSON: ${(error as Error).message.split("\n")[0]}`]);
  }
  return parseRunSpec(data, source);
}

/** The spec is not the run the DAO approved (another hash, or other terms than on-chain). */
export class RunSpecMismatchError extends Error {
  override readonly name = "RunSpecMismatchError";
}

/** Parses a fetched spec and checks that it is the one the DAO approved as `runId`. */
export function verifiedRunSpec(text: string | Uint8Array, runId: string, source: string): RunSpec {
  const spec = parseRunSpecText(text, source);
  const actual = runIdOf(spec);
  if (actual !== runId)
    throw new RunSpecMismatchError(
      `the ${source} hashes to ${actual}, not the approved run ${runId}; the proposal points at the wrong spec`,
    );
  return spec;
}

/** A spec file on this machine (YAML or JSON), as a member proposes it. */
export async function readRunSpecFile(path: string): Promise<RunSpec> {
  return parseRunSpecText(await readFile(path), path);
}
