import { createHash } from "node:crypto";
import type { Bytes32 } from "../spec/runSpec.ts";
import { SeededRandom } from "../spec/seededRandom.ts";

/** Coordinates of the pseudo-gradient kept per replica to compare directions (duplicates, alignment). */
export const SKETCH_COORDINATES = 4096;

/**
 * The round's sampling seed: sha256 over θ's root and every replica's manifest root, in replica
 * order. No replica knows it before all have delivered (it covers their roots, its own included),
 * so none can shape its output to the coordinates or windows it picks; anyone holding the same
 * manifests derives the same seed.
 */
export function roundSeed(
  globalRoot: Bytes32,
  replicaRoots: readonly { id: string; root: Bytes32 }[],
): number[] {
  const hash = createHash("sha256").update("daotrain/outer-step-sample\n").update(globalRoot);
  for (const { id, root } of replicaRoots) hash.update(`\n${id}=${root}`);
  const digest = hash.digest();
  return Array.from({ length: 8 }, (_, i) => digest.readUInt32BE(4 * i));
}

/**
 * Which coordinates of the flattened parameter vector (the model's tensors in parameterShapes
 * order, each row-major) the sketch keeps: one uniformly drawn from each of `count` equal strata,
 * so they are distinct, ascending and spread over every tensor. All of them when there are fewer.
 */
export function sketchCoordinates(
  total: number,
  seed: readonly number[],
  count = SKETCH_COORDINATES,
): Float64Array {
  if (total <= count) return Float64Array.from({ length: total }, (_, i) => i);
  const random = new SeededRandom(...seed, 0x5ce7c4);
  const picked = new Float64Array(count);
  for (let s = 0; s < count; s++) {
    const from = Math.floor((s * total) / count);
    const to = Math.floor(((s + 1) * total) / count);
    picked[s] = from + random.int(to - from);
  }
  return picked;
}
