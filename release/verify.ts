import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type FileHash, hashFiles } from "../checkpoints/hashFiles.ts";
import { decodeHeader, parseSafetensors } from "../checkpoints/safetensors.ts";
import type { Tensor } from "../checkpoints/tensor.ts";
import { huggingFaceConfigFiles, releasedTensorOf } from "../model/huggingface.ts";
import { runSpecFromMetadata } from "../model/parameters.ts";
import { type Bytes32, type RunSpec, runIdOf } from "../spec/runSpec.ts";
import { type ReleaseFacts, renderCard } from "./card.ts";
import {
  type CheckpointShardHeader,
  RELEASE_FILES,
  RELEASE_MANIFEST_FILE,
  type ReleaseFileName,
  type ReleaseManifest,
  readReleaseManifest,
} from "./manifest.ts";

/** The release the chain vouches for: the run, the released round and its committed root. */
export interface ChainRelease {
  readonly runId: Bytes32;
  readonly round: number;
  readonly checkpointRoot: Bytes32;
}

/** Which check failed, so callers map it to an exit code: the download's kinds. */
export type ReleaseProblemKind = "manifestInvalid" | "rootMismatch" | "fileCorrupt";
export interface ReleaseProblem {
  readonly kind: ReleaseProblemKind;
  readonly message: string;
}

export interface ReleaseFileCheck {
  readonly path: ReleaseFileName;
  readonly present: boolean;
  readonly ok: boolean;
  /** What on-chain value the file was proven against. */
  readonly coveredBy: string;
}

export interface ReleaseVerification {
  readonly ok: boolean;
  readonly manifest: ReleaseManifest | undefined;
  readonly files: readonly ReleaseFileCheck[];
  readonly problems: readonly ReleaseProblem[];
}

const WEIGHT_FILES: readonly ReleaseFileName[] = [RELEASE_FILES.weights, RELEASE_FILES.momentum];

/** How each file is proven; the model card's table says the same. */
export const COVERAGE: Readonly<Record<ReleaseFileName, string>> = {
  [RELEASE_FILES.weights]: "checkpoint root (the committed shards rebuilt from the weights files)",
  [RELEASE_FILES.momentum]: "checkpoint root (the committed shards rebuilt from the weights files)",
  [RELEASE_FILES.config]: "run id (recomputed from the run spec)",
  [RELEASE_FILES.generation]: "run id (recomputed from the run spec)",
  [RELEASE_FILES.tokenizer]: "run id (recomputed from the run spec)",
  [RELEASE_FILES.tokenizerConfig]: "run id (recomputed from the run spec)",
  [RELEASE_FILES.card]: "the chain's records of the run (recomputed)",
};

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** The run spec the released checkpoint carries, trusted only because it hashes to the run id. */
export function releasedSpec(manifest: ReleaseManifest): RunSpec {
  const first = manifest.checkpointShards[0]!;
  const header = Buffer.from(first.header, "base64");
  const decoded = decodeHeader(first.path, header.subarray(8), first.bytes);
  const spec = runSpecFromMetadata(decoded.metadata, `${RELEASE_MANIFEST_FILE} ${first.path}`);
  if (runIdOf(spec) !== manifest.runId)
    throw new Error(
      `its checkpoint carries a run spec hashing to ${runIdOf(spec)}, not the run id ${manifest.runId}`,
    );
  return spec;
}

/** Rebuilds one committed checkpoint shard from the released weights files and hashes it. */
function rebuildShardHash(
  shard: CheckpointShardHeader,
  spec: RunSpec,
  released: Record<"model" | "momentum", Record<string, Tensor>>,
): string {
  const header = Buffer.from(shard.header, "base64");
  const decoded = decodeHeader(shard.path, header.subarray(8), shard.bytes);
  const hash = createHash("sha256").update(header);
  const inOrder = [...decoded.tensors].sort((a, b) => a[1].offsets[0] - b[1].offsets[0]);
  for (const [name, entry] of inOrder) {
    const target = releasedTensorOf(name, spec.model);
    const tensor = released[target.file][target.name];
    if (!tensor || tensor.dtype !== entry.dtype || tensor.shape.join() !== entry.shape.join())
      throw new Error(
        `${target.name} in the ${target.file} file is not the checkpoint's ${name} (${entry.dtype} [${entry.shape}])`,
      );
    hash.update(tensor.bytes);
  }
  return hash.digest("hex");
}

async function checkWeights(
  dir: string,
  manifest: ReleaseManifest,
  spec: RunSpec,
): Promise<ReleaseProblem | undefined> {
  const [model, momentum] = await Promise.all(
    WEIGHT_FILES.map(async (name) => parseSafetensors(name, await readFile(join(dir, name))).tensors),
  );
  try {
    for (const shard of manifest.checkpointShards) {
      const rebuilt = rebuildShardHash(shard, spec, { model: model!, momentum: momentum! });
      if (rebuilt !== shard.sha256)
        return {
          kind: "rootMismatch",
          message: `the weights rebuild checkpoint shard ${shard.path} with sha256 ${rebuilt}, not the committed ${shard.sha256}`,
        };
    }
  } catch (error) {
    return {
      kind: "rootMismatch",
      message: `the weights do not rebuild the committed checkpoint: ${(error as Error).message}`,
    };
  }
  return undefined;
}

/** What the derived files must hold, recomputed from the spec and the chain's facts. */
function recomputedHashes(spec: RunSpec, facts: ReleaseFacts): Partial<Record<ReleaseFileName, string>> {
  const texts: Record<string, string> = {
    ...huggingFaceConfigFiles(spec),
    [RELEASE_FILES.card]: renderCard(spec, facts),
  };
  return Object.fromEntries(Object.entries(texts).map(([name, text]) => [name, sha256(text)]));
}

/**
 * Verifies a release directory against the chain without trusting anything in it: release.json
 * must name the released run, round and committed root; each file present must have the size and
 * sha256 release.json lists, and those must be what the chain covers — the weights by rebuilding
 * the committed checkpoint's shards from them, the configs and tokenizer by recomputing them from
 * the run spec (which hashes to the run id), the card by recomputing it from the chain's facts.
 * `wanted` picks the files that must be present (default: all). Never throws for a bad copy.
 */
export async function verifyRelease(
  dir: string,
  chain: ChainRelease,
  facts: ReleaseFacts,
  wanted: (path: ReleaseFileName) => boolean = () => true,
): Promise<ReleaseVerification> {
  const problems: ReleaseProblem[] = [];
  const fail = (kind: ReleaseProblemKind, message: string) => problems.push({ kind, message });
  let manifest: ReleaseManifest;
  let spec: RunSpec;
  try {
    manifest = await readReleaseManifest(dir);
    spec = releasedSpec(manifest);
  } catch (error) {
    fail("manifestInvalid", `${RELEASE_MANIFEST_FILE}: ${(error as Error).message}`);
    return { ok: false, manifest: undefined, files: [], problems };
  }
  if (manifest.runId !== chain.runId || manifest.round !== chain.round)
    fail(
      "manifestInvalid",
      `${RELEASE_MANIFEST_FILE} is for run ${manifest.runId} round ${manifest.round}, not run ${chain.runId} round ${chain.round}`,
    );
  if (manifest.checkpointRoot !== chain.checkpointRoot)
    fail(
      "rootMismatch",
      `${RELEASE_MANIFEST_FILE} was made from checkpoint root ${manifest.checkpointRoot}, but the chain committed ${chain.checkpointRoot}`,
    );

  const recomputed = recomputedHashes(spec, facts);
  const present = await presentFiles(dir, manifest, wanted);
  const bad = new Set<ReleaseFileName>();
  for (const entry of manifest.files) {
    const got = present.get(entry.path);
    const expected = recomputed[entry.path];
    if (expected !== undefined && expected !== entry.sha256) {
      fail(
        "rootMismatch",
        `${entry.path}: ${RELEASE_MANIFEST_FILE} lists sha256 ${entry.sha256}, but recomputed from the chain it is ${expected}`,
      );
      bad.add(entry.path);
    }
    if (!wanted(entry.path)) continue;
    if (got === undefined) {
      fail("fileCorrupt", `${entry.path} is missing`);
      bad.add(entry.path);
    } else if (got.bytes !== entry.bytes || got.sha256 !== entry.sha256) {
      fail(
        "fileCorrupt",
        `${entry.path}: ${got.bytes} bytes with sha256 ${got.sha256}, ${RELEASE_MANIFEST_FILE} lists ${entry.bytes} bytes with ${entry.sha256}`,
      );
      bad.add(entry.path);
    }
  }
  const weightsWanted = WEIGHT_FILES.filter(wanted);
  if (weightsWanted.length > 0 && problems.length === 0) {
    const absent = WEIGHT_FILES.filter((name) => !present.has(name));
    const problem =
      absent.length > 0
        ? ({
            kind: "fileCorrupt",
            message: `${weightsWanted.join(" and ")} can only be proven against the checkpoint root together with ${absent.join(" and ")}, which is missing`,
          } as const)
        : await checkWeights(dir, manifest, spec);
    if (problem) {
      problems.push(problem);
      for (const name of weightsWanted) bad.add(name);
    }
  }
  const files = manifest.files.map((entry) => ({
    path: entry.path,
    present: present.has(entry.path),
    ok: wanted(entry.path) && problems.length === 0 && !bad.has(entry.path),
    coveredBy: COVERAGE[entry.path],
  }));
  return { ok: problems.length === 0, manifest, files, problems };
}

/** Hashes the listed files that are present (the weights too when either is wanted, for the proof). */
async function presentFiles(
  dir: string,
  manifest: ReleaseManifest,
  wanted: (path: ReleaseFileName) => boolean,
): Promise<Map<ReleaseFileName, FileHash>> {
  const weightsWanted = WEIGHT_FILES.some(wanted);
  const candidates = manifest.files
    .map((f) => f.path)
    .filter((path) => wanted(path) || (weightsWanted && WEIGHT_FILES.includes(path)));
  const found = new Map<ReleaseFileName, FileHash>();
  for (const path of candidates) {
    const [hash] = await hashFiles([join(dir, path)]).catch(() => [undefined]);
    if (hash) found.set(path, hash);
  }
  return found;
}
