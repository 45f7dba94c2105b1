import { InvalidInputError } from "../spec/errors.ts";
import { InputMismatchError } from "./io.ts";

/**
 * Runs one of the image's programs (the trainer, the evaluator) as a process: logs go to stderr
 * as `<name>: …` lines, the result to stdout as one JSON line, exit 0; a failure is one line
 * `<name>: failed: <reason>` and exit 2 when the environment breaks the contract, 3 when an input
 * is missing or does not match its root, 1 otherwise.
 */
export async function runProgram(
  name: string,
  run: (log: (line: string) => void) => Promise<unknown>,
): Promise<void> {
  const log = (line: string) => process.stderr.write(`${name}: ${line}\n`);
  try {
    process.stdout.write(`${JSON.stringify(await run(log))}\n`);
    process.exitCode = 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: failed: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    process.exitCode = error instanceof InvalidInputError ? 2 : error instanceof InputMismatchError ? 3 : 1;
  }
}
