import { SeededRandom } from "../spec/seededRandom.ts";
import type { Batch } from "./forward.ts";

/**
 * Random training windows from a replica's shards: each row picks a shard (weighted by length)
 * and a start, from a generator seeded by (seed, round, replica), so a rerun sees the same data.
 */
export class TrainingBatches {
  private readonly shards: readonly Uint16Array[];
  private readonly context: number;
  private readonly size: number;
  private readonly random: SeededRandom;
  private readonly total: number;

  constructor(shards: readonly Uint16Array[], context: number, size: number, ...seed: number[]) {
    this.shards = shards;
    this.context = context;
    this.size = size;
    this.random = new SeededRandom(...seed);
    for (const s of shards) {
      if (s.length < context + 1)
        throw new Error(`a shard of ${s.length} tokens is shorter than one window of ${context + 1}`);
    }
    this.total = shards.reduce((n, s) => n + s.length, 0);
  }

  next(): Batch {
    const t = this.context;
    const b = this.size;
    const inputs = new Int32Array(b * t);
    const targets = new Int32Array(b * t);
    for (let row = 0; row < b; row++) {
      const shard = this.pickShard();
      const start = this.random.int(shard.length - t);
      for (let i = 0; i < t; i++) {
        inputs[row * t + i] = shard[start + i]!;
        targets[row * t + i] = shard[start + i + 1]!;
      }
    }
    return { inputs, targets, size: b };
  }

  private pickShard(): Uint16Array {
    let at = this.random.int(this.total);
    for (const s of this.shards) {
      if (at < s.length) return s;
      at -= s.length;
    }
    return this.shards[this.shards.length - 1]!;
  }
}

/**
 * The fixed held-out batches: consecutive windows (stride `context`) from the validation tokens,
 * batch k taking windows k·size … k·size+size−1 (wrapping), the same for every checkpoint judged.
 */
export function validationBatches(
  tokens: Uint16Array,
  context: number,
  size: number,
  count: number,
): Batch[] {
  const windows = Math.floor((tokens.length - 1) / context);
  if (windows < 1)
    throw new Error(
      `validation data of ${tokens.length} tokens is shorter than one window of ${context + 1}`,
    );
  const batches: Batch[] = [];
  for (let k = 0; k < count; k++) {
    const inputs = new Int32Array(size * context);
    const targets = new Int32Array(size * context);
    for (let row = 0; row < size; row++) {
      const start = ((k * size + row) % windows) * context;
      for (let i = 0; i < context; i++) {
        inputs[row * context + i] = tokens[start + i]!;
        targets[row * context + i] = tokens[start + i + 1]!;
      }
    }
    batches.push({ inputs, targets, size });
  }
  return batches;
}
