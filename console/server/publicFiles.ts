import type { Hex } from "viem";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { merkleRoot } from "../../checkpoints/merkle.ts";
import { DATASET_MANIFEST_FILE, DatasetManifest } from "../../datasets/manifest.ts";
import { formatZodError } from "../../spec/errors.ts";
import { type RunSpec, RunSpec as RunSpecSchema, runIdOf } from "../../spec/runSpec.ts";
import { type OpenStoreOptions, openStore, splitObjectUri } from "../../storage/index.ts";
import type { ManifestSummary, SpecSummary } from "../api.ts";

// Files a proposal points at — a run spec, a dataset manifest — read for members to review.
// Their URIs come from strangers, so every read is bounded, nothing read is echoed back (a
// parser's message could quote a file the URI should never have named), and what is shown is
// checked against the hash the chain holds.

const MAX_SPEC_BYTES = 64 * 1024;
const MAX_MANIFEST_BYTES = 1024 * 1024;

async function readBounded(uri: string, maxBytes: number, options: OpenStoreOptions): Promise<Uint8Array> {
  if (uri.startsWith("data:")) {
    // Node's fetch decodes data: URIs; the URI's own length is bounded by the chain's calldata.
    const bytes = new Uint8Array(await (await fetch(uri)).arrayBuffer());
    if (bytes.length > maxBytes) throw new RangeError("too large");
    return bytes;
  }
  const { storeUri, key } = splitObjectUri(uri);
  return await openStore(storeUri, options).getBytes(key, maxBytes);
}

/** JSON, or YAML for a spec (its superset, which `daotrain propose run` accepts); never the parser's message. */
function parseText(bytes: Uint8Array, format: "json" | "yaml"): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = new TextDecoder().decode(bytes);
    return { ok: true, value: format === "json" ? JSON.parse(text) : parseYaml(text) };
  } catch {
    return { ok: false };
  }
}

function describeModel(spec: RunSpec): string {
  const m = spec.model;
  return `${m.architecture}, ${m.layers} layer(s) of width ${m.dModel}, ${m.heads} heads, context ${m.contextLength}, vocabulary ${m.vocabSize}`;
}

/** The run spec at `specUri`, summarized, and whether it hashes to the run id the proposal approves. */
export async function specSummary(
  specUri: string,
  runId: Hex,
  options: OpenStoreOptions,
): Promise<SpecSummary> {
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(specUri, MAX_SPEC_BYTES, options);
  } catch {
    return {
      readable: false,
      problem: `the console cannot read a run spec of at most ${MAX_SPEC_BYTES} bytes at this URI`,
    };
  }
  const json = parseText(bytes, "yaml");
  if (!json.ok) return { readable: false, problem: "the spec URI holds neither JSON nor YAML" };
  const parsed = RunSpecSchema.safeParse(json.value);
  if (!parsed.success) {
    // Name only the spec's own fields: an unrecognized key would quote the file the URI named.
    const ownFields = parsed.error.issues.filter((issue) => issue.code !== "unrecognized_keys");
    const problems = formatZodError(new z.ZodError(ownFields));
    return {
      readable: false,
      problem: `not a valid run spec${problems.length > 0 ? `: ${problems.join("; ")}` : " (it has fields a run spec does not)"}`,
    };
  }
  const spec = parsed.data;
  return {
    readable: true,
    name: spec.name,
    model: describeModel(spec),
    rounds: spec.rounds,
    innerSteps: spec.innerSteps,
    replicasPerRound: spec.replicasPerRound,
    minReplicas: spec.minReplicas,
    gpusPerReplica: spec.gpusPerReplica,
    gpuHourBudget: spec.gpuHourBudget,
    rewardPerGpuHour: spec.rewardPerGpuHour,
    image: spec.image,
    matchesRunId: runIdOf(spec) === runId.toLowerCase(),
  };
}

/** The dataset's manifest, counted only when its shard hashes give the root the chain names. */
export async function manifestSummary(
  datasetUri: string,
  root: Hex,
  options: OpenStoreOptions,
): Promise<ManifestSummary> {
  let bytes: Uint8Array;
  try {
    bytes = await openStore(datasetUri, options).getBytes(DATASET_MANIFEST_FILE, MAX_MANIFEST_BYTES);
  } catch {
    return {
      readable: false,
      problem: `the console cannot read ${DATASET_MANIFEST_FILE} at the dataset's URI`,
    };
  }
  const json = parseText(bytes, "json");
  const parsed = json.ok ? DatasetManifest.safeParse(json.value) : undefined;
  if (!parsed?.success)
    return { readable: false, problem: `the dataset's ${DATASET_MANIFEST_FILE} is not a valid manifest` };
  const manifest = parsed.data;
  const recomputed = merkleRoot(manifest.shards.map((s) => s.sha256));
  if (recomputed !== root.toLowerCase() || manifest.root !== recomputed)
    return { readable: false, problem: "the manifest at this URI does not hash to the dataset's root" };
  const train = manifest.shards.filter((s) => s.split === "train").length;
  return {
    readable: true,
    shards: manifest.shards.length,
    trainShards: train,
    validationShards: manifest.shards.length - train,
    tokens: manifest.tokens,
  };
}
