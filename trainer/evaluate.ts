#!/usr/bin/env node
/**
 * The evaluator process (one per scored replica output): `node trainer/evaluate.ts` with the
 * evaluator contract's environment (spec/trainerContract.ts `EvaluatorEnv`), in the trainer image.
 * Logs to stderr, prints `{ scoresUri, scores }` as one JSON line on stdout, exits 0; otherwise
 * exits non-zero with a one-line reason, with the trainer's codes (trainer/program.ts).
 */
import { runEvaluator } from "./evaluation.ts";
import { runProgram } from "./program.ts";

await runProgram("evaluator", (log) => runEvaluator(process.env, log));
