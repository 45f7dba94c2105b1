#!/usr/bin/env node
/**
 * The trainer process (one per replica): `node trainer/main.ts` with the trainer contract's
 * environment (spec/trainerContract.ts). Logs to stderr, prints the output checkpoint's manifest
 * as one JSON line on stdout, exits 0; otherwise exits non-zero with a one-line reason:
 * 2 = the environment breaks the contract, 3 = an input is missing or does not match its root,
 * 1 = anything else.
 */
import { InvalidInputError } from "../spec/errors.ts";
import { InputMismatchError } from "./io.ts";
import { runTrainer } from "./run.ts";

const log = (line: string) => process.stderr.write(`trainer: ${line}\n`);

try {
  const result = await runTrainer(process.env, log);
  process.stdout.write(
    `${JSON.stringify({ output: result.output, backend: result.backend, manifest: result.manifest })}\n`,
  );
  process.exitCode = 0;
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`trainer: failed: ${message.replace(/\s*\n\s*/g, " ")}\n`);
  process.exitCode = error instanceof InvalidInputError ? 2 : error instanceof InputMismatchError ? 3 : 1;
}
