import type { FileHandle } from "node:fs/promises";
import {
  dequantiseInt8Into,
  INT8_BLOCK,
  int8Values,
  pseudoGradientInto,
} from "../checkpoints/pseudoGradient.ts";
import { type TensorLocation, TensorPieces } from "../checkpoints/stream.ts";
import { dtypeBytes, toFloat32 } from "../checkpoints/tensor.ts";
import type { DeltaSource } from "./replicaForm.ts";

/**
 * A replica's pseudo-gradient read a run of coordinates at a time, for the aggregation's second
 * pass over a validated replica: parameters in the model's order, each front to back. Every byte
 * is hashed again as it is read, and `finish` checks it was what validation verified.
 */
export interface DeltaReader {
  /** Δ of the next `out.length` coordinates of parameter `name`, whose θ values are `theta`. */
  next(name: string, theta: Float32Array, out: Float32Array): Promise<void>;
  finish(): void;
}

export type OpenFile = (file: string) => Promise<FileHandle>;

export function openDeltaReader(source: DeltaSource, open: OpenFile): DeltaReader {
  return source.form === "int8"
    ? new Int8Deltas(source.values, source.scales, open)
    : new ParameterDeltas(source.tensors, open);
}

/** θₖ's own tensors: Δ = θ − θₖ, each parameter's tensor checked when the next one starts. */
class ParameterDeltas implements DeltaReader {
  readonly #tensors: ReadonlyMap<string, TensorLocation>;
  readonly #open: OpenFile;
  #current: { name: string; location: TensorLocation; pieces: TensorPieces } | undefined;

  constructor(tensors: ReadonlyMap<string, TensorLocation>, open: OpenFile) {
    this.#tensors = tensors;
    this.#open = open;
  }

  async next(name: string, theta: Float32Array, out: Float32Array): Promise<void> {
    if (this.#current?.name !== name) {
      this.#current?.pieces.finish();
      const location = this.#tensors.get(name)!;
      this.#current = { name, location, pieces: new TensorPieces(await this.#open(location.file), location) };
    }
    const { dtype } = this.#current.location;
    const bytes = await this.#current.pieces.next(out.length * dtypeBytes[dtype]);
    pseudoGradientInto(out, theta, toFloat32({ dtype, shape: [out.length], bytes }));
  }

  finish(): void {
    this.#current?.pieces.finish();
  }
}

/**
 * The int8 form: q read in step with the scales of the blocks it covers (a run may end inside a
 * block, whose scale the next run reuses), so neither tensor is held whole.
 */
class Int8Deltas implements DeltaReader {
  readonly #locations: readonly [TensorLocation, TensorLocation];
  readonly #open: OpenFile;
  #pieces: readonly [values: TensorPieces, scales: TensorPieces] | undefined;
  #name = "";
  /** The next coordinate of the current parameter, and how many of its blocks' scales were read. */
  #at = 0;
  #blocksRead = 0;
  #lastScale = 0;

  constructor(values: TensorLocation, scales: TensorLocation, open: OpenFile) {
    this.#locations = [values, scales];
    this.#open = open;
  }

  async next(name: string, _theta: Float32Array, out: Float32Array): Promise<void> {
    if (!this.#pieces) {
      const [values, scales] = this.#locations;
      this.#pieces = [
        new TensorPieces(await this.#open(values.file), values),
        new TensorPieces(await this.#open(scales.file), scales),
      ];
    }
    const [values, scales] = this.#pieces;
    if (name !== this.#name) {
      this.#name = name;
      this.#at = 0;
      this.#blocksRead = 0;
    }
    const first = Math.floor(this.#at / INT8_BLOCK);
    const last = Math.floor((this.#at + out.length - 1) / INT8_BLOCK);
    const fresh = last + 1 - this.#blocksRead;
    const q = int8Values({ bytes: await values.next(out.length), shape: [out.length] });
    const read = toFloat32({ dtype: "F32", shape: [fresh], bytes: await scales.next(4 * fresh) });
    const covering = new Float32Array(last - first + 1);
    // Only the block the previous run ended in can have been read already.
    if (first < this.#blocksRead) covering[0] = this.#lastScale;
    covering.set(read, covering.length - fresh);
    dequantiseInt8Into(out, q, covering, this.#at);
    this.#lastScale = covering[covering.length - 1]!;
    this.#blocksRead = last + 1;
    this.#at += out.length;
  }

  finish(): void {
    for (const pieces of this.#pieces ?? []) pieces.finish();
  }
}
