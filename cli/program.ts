import { type Command, CommanderError, InvalidArgumentError } from "commander";
import { InvalidInputError } from "../spec/errors.ts";

/** Exit codes every verb shares: 1 = the operation failed, 2 = the command line was wrong. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** An error a verb raises when the user asked for something impossible; printed without a stack. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.failed) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** An argument parser that takes one of `values` and refuses anything else, listing them. */
export function oneOf<const T extends readonly string[]>(values: T): (value: string) => T[number] {
  return (value) => {
    const found = values.find((v) => v === value);
    if (found === undefined) throw new InvalidArgumentError(`must be one of ${values.join(", ")}`);
    return found;
  };
}

function usageLine(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return `${names.join(" ")} ${command.usage()}`;
}

/**
 * Makes commander report a wrong argument as one line naming it plus the usage, exit code 2,
 * for the command and all its subcommands (call after every subcommand is added).
 */
export function withUsageErrors(command: Command): Command {
  command.exitOverride();
  command.configureOutput({
    outputError: () => {},
  });
  for (const sub of command.commands) withUsageErrors(sub);
  return command;
}

/** Runs the program and turns every failure into a one-line message and an exit code. */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  let active: Command = program;
  program.hook("preSubcommand", (_parent, sub) => {
    active = sub;
  });
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return ExitCode.ok;
      if (error.code === "commander.help") return ExitCode.ok;
      const failing = findCommand(program, argv) ?? active;
      process.stderr.write(
        `${error.message.replace(/^error: /, "daotrain: ")} (usage: ${usageLine(failing)})\n`,
      );
      return ExitCode.usage;
    }
    if (error instanceof InvalidInputError) {
      process.stderr.write(`daotrain: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`daotrain: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`daotrain: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.DAOTRAIN_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return ExitCode.failed;
  }
}

/** The deepest subcommand named on the command line, for the usage in an error line. */
function findCommand(program: Command, argv: string[]): Command | undefined {
  let current = program;
  for (const word of argv.slice(2)) {
    const next = current.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    current = next;
  }
  return current;
}
