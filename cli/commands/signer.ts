import password from "@inquirer/password";
import { type Command, Option } from "commander";
import type { Hex } from "viem";
import { KeystoreError, readKeystore, readPasswordFile } from "../../governance/keys.ts";
import { CliError, ExitCode } from "../program.ts";

// Where a signing verb gets its key, as Foundry's tools do: an encrypted keystore (Web3 Secret
// Storage v3, what `cast wallet` and geth write; `daotrain key new` too) opened with a password
// typed at a prompt or read from a file, or DAOTRAIN_KEY from the environment. Never the key
// itself on the command line, where shell history and `ps` would keep it.

export interface SignerOptions {
  keystore?: string;
  passwordFile?: string;
}

const KEY_ON_ARGV =
  "a private key on the command line lands in shell history and the process list; use --keystore FILE (create one with `daotrain key new` or `cast wallet new`) or set DAOTRAIN_KEY";

/**
 * Adds --keystore and --password-file, and refuses the old --key by name (before the verb runs,
 * and without repeating the key, as commander's own message about a bad value would).
 */
export function withSignerOptions(command: Command): Command {
  return command
    .option("--keystore <file>", "encrypted keystore that signs (Web3 Secret Storage; default: DAOTRAIN_KEY)")
    .option("--password-file <file>", "file holding the keystore's password (default: prompt on a terminal)")
    .addOption(new Option("--key <hex>").hideHelp())
    .hook("preAction", (verb) => {
      if (verb.opts().key !== undefined) throw new CliError(KEY_ON_ARGV, ExitCode.usage);
    });
}

/**
 * The key that signs: the keystore's (password from --password-file, else a prompt when stdin
 * is a terminal), else DAOTRAIN_KEY, else none (read-only verbs).
 */
export async function signingKey(options: SignerOptions): Promise<Hex | undefined> {
  if (options.keystore) {
    try {
      return await readKeystore(options.keystore, await keystorePassword(options));
    } catch (error) {
      if (error instanceof KeystoreError) throw new CliError(error.message);
      throw error;
    }
  }
  if (options.passwordFile)
    throw new CliError("--password-file opens a --keystore; pass --keystore FILE too", ExitCode.usage);
  return environmentKey();
}

/** DAOTRAIN_KEY, checked: 0x and 64 hex digits. */
export function environmentKey(env: NodeJS.ProcessEnv = process.env): Hex | undefined {
  const value = env.DAOTRAIN_KEY;
  if (!value) return undefined;
  if (!/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new CliError("DAOTRAIN_KEY must be 0x followed by 64 hex digits", ExitCode.usage);
  return value as Hex;
}

async function keystorePassword(options: SignerOptions): Promise<string> {
  if (options.passwordFile) return await readPasswordFile(options.passwordFile);
  return await promptPassword(`password for ${options.keystore}`);
}

/** Asks on the terminal without echo; without a terminal, says which option to use instead. */
export async function promptPassword(message: string): Promise<string> {
  if (!process.stdin.isTTY)
    throw new CliError(
      `${message}: stdin is not a terminal to prompt on; pass --password-file FILE`,
      ExitCode.usage,
    );
  return await password({ message, mask: false }, { output: process.stderr });
}
