#!/usr/bin/env node
/**
 * The real trainer with a fault injected, chosen by DAOTRAIN_TEST_FAULT (set per test cluster
 * through the clusters file's `env`): unset trains honestly; "fail" exits 1 at once (a crashing
 * pod); "hang" never finishes (a stuck pod); "norm100" trains, then rewrites its checkpoint with
 * every parameter × 100 and correct hashes, so only the outer step's validation can catch it.
 */
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  floatTensor,
  readCheckpoint,
  type Tensor,
  toFloat32,
  writeCheckpoint,
} from "../../checkpoints/index.ts";
import { runTrainer } from "../../trainer/run.ts";

const fault = process.env.DAOTRAIN_TEST_FAULT;
const log = (line: string) => process.stderr.write(`faulty trainer (${fault ?? "honest"}): ${line}\n`);

if (fault === "fail") {
  log("failing on purpose");
  process.exit(1);
}
if (fault === "hang") {
  log("hanging on purpose");
  await sleep(24 * 3600 * 1000);
}
const result = await runTrainer(process.env, log);
if (fault === "norm100") {
  // The fault tests keep the run store in a local directory.
  const output = fileURLToPath(result.output);
  const trained = await readCheckpoint(output);
  const scaled: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(trained.tensors)) {
    scaled[name] = floatTensor(
      tensor.shape,
      toFloat32(tensor).map((v) => v * 100),
    );
  }
  await rm(output, { recursive: true });
  const { manifest } = trained;
  await writeCheckpoint(output, scaled, {
    runId: manifest.runId,
    round: manifest.round,
    parentRoot: manifest.parentRoot,
    metrics: manifest.metrics,
    metadata: trained.metadata,
  });
  log("wrote a checkpoint 100× the trained one");
}
