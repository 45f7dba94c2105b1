import { type Command, InvalidArgumentError } from "commander";
import { type Address, formatUnits, getAddress, type Hex, isAddress } from "viem";
import { connect, type Governance } from "../../governance/chain.ts";
import { DEFAULT_DEPLOYMENT_FILE } from "../../governance/deployment.ts";
import { type SignerOptions, signingKey, withSignerOptions } from "./signer.ts";

// The options and argument parsers the governance verbs (dao, propose, vote, execute,
// proposals) share. A wrong value is a commander InvalidArgumentError: exit code 2.

export interface ChainOptions extends SignerOptions {
  rpc?: string;
  deployment?: string;
  json?: boolean;
}

export function address(value: string): Address {
  if (!isAddress(value, { strict: false }))
    throw new InvalidArgumentError("must be a 0x-prefixed 20-byte address");
  return getAddress(value);
}

export function bytes32(value: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new InvalidArgumentError("must be 0x followed by 64 hex digits");
  return value.toLowerCase() as Hex;
}

export function wholeNumber(value: string): bigint {
  if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError("must be a whole number");
  return BigInt(value);
}

/** Adds --rpc, --deployment, --json and, for verbs that sign, --keystore/--password-file (or DAOTRAIN_KEY). */
export function withChainOptions(command: Command, options: { write: boolean }): Command {
  command
    .option("--rpc <url>", "chain RPC URL (default: the one in the deployment file)")
    .option(
      "--deployment <file>",
      `daotrain deployment file (default: DAOTRAIN_DEPLOYMENT or ${DEFAULT_DEPLOYMENT_FILE})`,
    )
    .option("--json", "print the result as JSON");
  return options.write ? withSignerOptions(command) : command;
}

export async function connectFrom(options: ChainOptions): Promise<Governance> {
  const key = await signingKey(options);
  return connect({ rpcUrl: options.rpc, deploymentFile: options.deployment, privateKey: key });
}

/** JSON with bigints as decimal strings, one document per line. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
}

/** An 18-decimals token amount for people: 1234.5 rather than 1234500000000000000000. */
export function tokens(amount: bigint): string {
  return formatUnits(amount, 18);
}
