import * as tf from "@tensorflow/tfjs-core";
import type { ModelParams } from "../model/forward.ts";

export interface AdamWConfig {
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

/**
 * AdamW (Loshchilov & Hutter): Adam with bias correction and weight decay decoupled from the
 * gradient, applied to matrices only (not to biases or LayerNorm gains). Holds its moments; each
 * `step` replaces the parameter tensors it is given and disposes the old ones.
 */
export class AdamW {
  private readonly m = new Map<string, tf.Tensor>();
  private readonly v = new Map<string, tf.Tensor>();
  private t = 0;

  private readonly config: AdamWConfig;

  constructor(config: AdamWConfig) {
    this.config = config;
  }

  step(params: ModelParams, grads: Readonly<Record<string, tf.Tensor>>): void {
    const { lr, weightDecay } = this.config;
    const b1 = this.config.beta1 ?? 0.9;
    const b2 = this.config.beta2 ?? 0.999;
    const eps = this.config.epsilon ?? 1e-8;
    this.t += 1;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name]!;
      const [m, v, next] = tf.tidy(() => {
        const m = tf.add(tf.mul(this.m.get(name) ?? tf.zerosLike(p), b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v.get(name) ?? tf.zerosLike(p), b2), tf.mul(tf.square(g), 1 - b2));
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        if (p.rank >= 2 && weightDecay > 0) update = tf.add(update, tf.mul(p, weightDecay));
        return [m, v, tf.sub(p, tf.mul(update, lr))];
      });
      this.m.get(name)?.dispose();
      this.v.get(name)?.dispose();
      this.m.set(name, m);
      this.v.set(name, v);
      p.dispose();
      params[name] = next;
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
