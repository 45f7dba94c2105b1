import { type FileHandle, open } from "node:fs/promises";
import { type TensorLocation, TensorPieces } from "../checkpoints/stream.ts";
import { dtypeBytes, toFloat32 } from "../checkpoints/tensor.ts";
import { parameterShapes } from "../model/parameters.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import type { GlobalState } from "./global.ts";
import { combine, outerUpdate, pseudoGradientInto } from "./outerMath.ts";

/** Replica values held at once while averaging (a piece of one tensor from every accepted replica). */
export const DEFAULT_AGGREGATION_BUFFER_BYTES = 32 * 1024 * 1024;

export interface NextGlobal {
  readonly params: Record<string, Float32Array>;
  readonly momentum: Record<string, Float32Array>;
}

/**
 * The outer step over the accepted replicas, a piece at a time: for each parameter, runs of
 * ⌊bufferBytes / (4·k)⌋ coordinates are read from each of the k replicas' files by offset, turned
 * into pseudo-gradients, combined (mean or trimmed mean) and applied with the outer optimizer. So
 * the replica values held at once stay under `bufferBytes` however many replicas there are; what
 * grows with the model is θ, its momentum and the result. Every piece read is hashed again and
 * checked against the digest taken when the replica was validated (TensorPieces).
 */
export async function aggregateReplicas(
  global: GlobalState,
  accepted: readonly { readonly tensors: ReadonlyMap<string, TensorLocation> }[],
  spec: RunSpec,
  bufferBytes = DEFAULT_AGGREGATION_BUFFER_BYTES,
): Promise<NextGlobal> {
  const k = accepted.length;
  if (k === 0) throw new RangeError("aggregateReplicas: no accepted replica");
  const run = Math.max(1, Math.floor(bufferBytes / (4 * k)));
  const handles = accepted.map(() => new Map<string, Promise<FileHandle>>());
  const handleOf = (r: number, file: string) => {
    let handle = handles[r]!.get(file);
    if (!handle) {
      handle = open(file, "r");
      handles[r]!.set(file, handle);
    }
    return handle;
  };
  const params: Record<string, Float32Array> = {};
  const momentum: Record<string, Float32Array> = {};
  try {
    for (const [name] of parameterShapes(spec.model)) {
      const theta = global.params[name]!;
      const previous = global.momentum?.[name];
      const locations = accepted.map((r) => r.tensors.get(name)!);
      const pieces = await Promise.all(
        locations.map(async (location, r) => new TensorPieces(await handleOf(r, location.file), location)),
      );
      const nextParams = new Float32Array(theta.length);
      const nextMomentum = new Float32Array(theta.length);
      const columns = new Float32Array(k * Math.min(run, theta.length));
      for (let start = 0; start < theta.length; start += run) {
        const n = Math.min(run, theta.length - start);
        const thetaRun = theta.subarray(start, start + n);
        for (const [r, piece] of pieces.entries()) {
          const { dtype } = locations[r]!;
          const bytes = await piece.next(n * dtypeBytes[dtype]);
          pseudoGradientInto(
            columns.subarray(r * n, (r + 1) * n),
            thetaRun,
            toFloat32({ dtype, shape: [n], bytes }),
          );
        }
        const delta = combine(columns.subarray(0, k * n), k, n, spec.outer.aggregation);
        const step = outerUpdate(thetaRun, delta, previous?.subarray(start, start + n), spec.outer);
        nextParams.set(step.params, start);
        nextMomentum.set(step.momentum, start);
      }
      for (const piece of pieces) piece.finish();
      params[name] = nextParams;
      momentum[name] = nextMomentum;
    }
  } finally {
    await Promise.all(
      handles.flatMap((byFile) =>
        [...byFile.values()].map((h) =>
          h.then(
            (handle) => handle.close(),
            () => {},
          ),
        ),
      ),
    );
  }
  return { params, momentum };
}
