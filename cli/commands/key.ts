import type { Command } from "commander";
import { generatePrivateKey } from "viem/accounts";
import { KeystoreError, readPasswordFile, writeKeystore } from "../../governance/keys.ts";
import { CliError, ExitCode } from "../program.ts";
import { printJson } from "./governanceOptions.ts";
import { environmentKey, promptPassword } from "./signer.ts";

// `daotrain key new|import`: the keystore every signing verb opens with --keystore, for members
// and contributors without Foundry's `cast wallet` (whose keystores work the same).

interface KeyOptions {
  out: string;
  passwordFile?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const key = program
    .command("key")
    .description(
      "create an encrypted keystore (Web3 Secret Storage, as cast wallet and geth write) to sign with",
    );
  const withKeyOptions = (command: Command) =>
    command
      .requiredOption("--out <file>", "where to write the keystore (never overwritten; mode 0600)")
      .option("--password-file <file>", "file holding the new keystore's password (default: prompt twice)")
      .option("--json", "print the address as JSON");

  withKeyOptions(key.command("new").description("generate a new key and store it encrypted")).action(
    (options: KeyOptions) => store(generatePrivateKey(), options),
  );
  withKeyOptions(
    key
      .command("import")
      .description(
        "store the key in DAOTRAIN_KEY (or one typed at a prompt) encrypted, so it can leave the environment",
      ),
  ).action(async (options: KeyOptions) => {
    const privateKey = environmentKey() ?? (await promptPrivateKey());
    await store(privateKey, options);
  });
}

async function store(privateKey: `0x${string}`, options: KeyOptions): Promise<void> {
  const password = options.passwordFile
    ? await readPasswordFile(options.passwordFile)
    : await newPassword(options.out);
  try {
    const address = await writeKeystore(options.out, privateKey, password);
    if (options.json) return printJson({ address, keystore: options.out });
    process.stdout.write(`${address}\nkeystore ${options.out}; sign with --keystore ${options.out}\n`);
  } catch (error) {
    if (error instanceof KeystoreError) throw new CliError(error.message);
    throw error;
  }
}

async function newPassword(file: string): Promise<string> {
  const first = await promptPassword(`new password for ${file}`);
  if (first.length < 8) throw new CliError("the password needs at least 8 characters", ExitCode.usage);
  if ((await promptPassword("the same password again")) !== first)
    throw new CliError("the two passwords differ; nothing was written", ExitCode.usage);
  return first;
}

async function promptPrivateKey(): Promise<`0x${string}`> {
  const typed = await promptPassword("private key to import (0x + 64 hex digits)");
  if (!/^0x[0-9a-fA-F]{64}$/.test(typed))
    throw new CliError("a private key is 0x followed by 64 hex digits", ExitCode.usage);
  return typed as `0x${string}`;
}
