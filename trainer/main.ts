#!/usr/bin/env node
/**
 * The trainer process (one per replica): `node trainer/main.ts` with the trainer contract's
 * environment (spec/trainerContract.ts). Logs to stderr, prints the output checkpoint's manifest
 * as one JSON line on stdout, exits 0; otherwise exits non-zero with a one-line reason:
 * 2 = the environment breaks the contract, 3 = an input is missing or does not match its root,
 * 1 = anything else.
 */
import { runProgram } from "./program.ts";
import { runTrainer } from "./run.ts";

await runProgram("trainer", async (log) => {
  const result = await runTrainer(process.env, log);
  return { output: result.output, backend: result.backend, manifest: result.manifest };
});
