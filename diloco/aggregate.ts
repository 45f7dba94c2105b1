import { type FileHandle, open } from "node:fs/promises";
import { parameterShapes } from "../model/parameters.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import { openDeltaReader } from "./deltaReader.ts";
import type { GlobalState } from "./global.ts";
import { combine, outerUpdate } from "./outerMath.ts";
import type { DeltaSource } from "./replicaForm.ts";

/** Replica values held at once while averaging (a piece of one tensor from every accepted replica). */
export const DEFAULT_AGGREGATION_BUFFER_BYTES = 32 * 1024 * 1024;

export interface NextGlobal {
  readonly params: Record<string, Float32Array>;
  readonly momentum: Record<string, Float32Array>;
}

/**
 * The outer step over the accepted replicas, a piece at a time: for each parameter, runs of
 * ⌊bufferBytes / (4·k)⌋ coordinates of each of the k replicas' pseudo-gradients are read from their
 * files by offset (θₖ turned into θ − θₖ, or int8 dequantised: deltaReader.ts), combined (mean or
 * trimmed mean) and applied with the outer optimizer. So the replica values held at once stay under
 * `bufferBytes` however many replicas there are; what grows with the model is θ, its momentum and
 * the result. Every piece read is hashed again and checked against the digest taken when the
 * replica was validated (TensorPieces).
 */
export async function aggregateReplicas(
  global: GlobalState,
  accepted: readonly { readonly source: DeltaSource }[],
  spec: RunSpec,
  bufferBytes = DEFAULT_AGGREGATION_BUFFER_BYTES,
): Promise<NextGlobal> {
  const k = accepted.length;
  if (k === 0) throw new RangeError("aggregateReplicas: no accepted replica");
  const run = Math.max(1, Math.floor(bufferBytes / (4 * k)));
  const handles = accepted.map(() => new Map<string, Promise<FileHandle>>());
  const readers = accepted.map((replica, r) =>
    openDeltaReader(replica.source, (file) => {
      let handle = handles[r]!.get(file);
      if (!handle) {
        handle = open(file, "r");
        handles[r]!.set(file, handle);
      }
      return handle;
    }),
  );
  const params: Record<string, Float32Array> = {};
  const momentum: Record<string, Float32Array> = {};
  try {
    for (const [name] of parameterShapes(spec.model)) {
      const theta = global.params[name]!;
      const previous = global.momentum?.[name];
      const nextParams = new Float32Array(theta.length);
      const nextMomentum = new Float32Array(theta.length);
      const columns = new Float32Array(k * Math.min(run, theta.length));
      for (let start = 0; start < theta.length; start += run) {
        const n = Math.min(run, theta.length - start);
        const thetaRun = theta.subarray(start, start + n);
        for (const [r, reader] of readers.entries())
          await reader.next(name, thetaRun, columns.subarray(r * n, (r + 1) * n));
        const delta = combine(columns.subarray(0, k * n), k, n, spec.outer.aggregation);
        const step = outerUpdate(thetaRun, delta, previous?.subarray(start, start + n), spec.outer);
        nextParams.set(step.params, start);
        nextMomentum.set(step.momentum, start);
      }
      params[name] = nextParams;
      momentum[name] = nextMomentum;
    }
    for (const reader of readers) reader.finish();
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
