import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as tf from "@tensorflow/tfjs-core";

/** TensorFlow.js backends in the order the trainer tries them: native GPU, native CPU, WebAssembly, pure JS. */
export const BACKENDS = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  readonly name: BackendName;
  /** The backends tried before it, and why each was passed over. */
  readonly skipped: readonly { readonly name: BackendName; readonly reason: string }[];
}

const require = createRequire(import.meta.url);

/**
 * Makes one backend current, or throws why it cannot. The native packages are optional
 * dependencies: where they did not install, the import fails and the next backend is tried.
 */
async function activate(name: BackendName): Promise<void> {
  switch (name) {
    case "tfjs-node-gpu":
    case "tfjs-node": {
      const specifier = `@tensorflow/${name}`;
      await import(specifier);
      if (!(await tf.setBackend("tensorflow"))) throw new Error("the tensorflow backend did not initialise");
      return;
    }
    case "wasm": {
      const wasm = await import("@tensorflow/tfjs-backend-wasm");
      wasm.setWasmPaths(
        `${dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"))}/`,
      );
      if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
      return;
    }
    case "cpu":
      await import("@tensorflow/tfjs-backend-cpu");
      if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not initialise");
      return;
  }
}

let chosen: Promise<BackendChoice> | undefined;

/**
 * Chooses the backend once per process: `only` (or DAOTRAIN_BACKEND) forces one, otherwise the
 * first of BACKENDS that loads. wasm comes before cpu because it is the faster of the two here
 * (bench/trainer.ts measures both).
 */
export function selectBackend(only: BackendName | undefined = backendFromEnv()): Promise<BackendChoice> {
  chosen ??= (async () => {
    const skipped: { name: BackendName; reason: string }[] = [];
    for (const name of only ? [only] : BACKENDS) {
      try {
        await activate(name);
        await tf.ready();
        return { name, skipped };
      } catch (error) {
        skipped.push({ name, reason: shortReason(error) });
      }
    }
    throw new Error(
      `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`,
    );
  })();
  return chosen;
}

function backendFromEnv(): BackendName | undefined {
  const value = process.env.DAOTRAIN_BACKEND;
  if (value === undefined || value === "" || value === "auto") return undefined;
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new Error(`DAOTRAIN_BACKEND=${value} is not one of auto, ${BACKENDS.join(", ")}`);
  }
  return value as BackendName;
}

function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/Cannot find (module|package)/.test(message)) return "not installed";
  return message.split("\n")[0]!.slice(0, 200);
}

/** One line for the log: the backend chosen and why the ones before it were not. */
export function describeBackend(choice: BackendChoice): string {
  const skipped = choice.skipped.map((s) => `${s.name}: ${s.reason}`).join("; ");
  return skipped ? `backend ${choice.name} (skipped ${skipped})` : `backend ${choice.name}`;
}
