import { readFile, writeFile } from "node:fs/promises";
import { decryptKeystore, encryptKeystore, isKeystoreWallet } from "@ethersproject/json-wallets";
import { type Hex, isHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

// Signing keys at rest: Web3 Secret Storage v3 keystores, the format geth and Foundry's `cast
// wallet` write (scrypt or pbkdf2 over the password, AES-128-CTR, a keccak MAC). ethers'
// json-wallets does the cryptography; this module only reads, checks and names the failures.

/** A keystore could not be read or opened; the message says which file and what to do. */
export class KeystoreError extends Error {
  override readonly name = "KeystoreError";
}

/** The most bytes a keystore file may have: real ones are under 1 KiB. */
const MAX_KEYSTORE_BYTES = 64 * 1024;

/** Decrypts a keystore file with its password and returns the private key it holds. */
export async function readKeystore(path: string, password: string): Promise<Hex> {
  const json = await readFile(path, "utf8").catch((error: Error) => {
    throw new KeystoreError(`cannot read keystore ${path}: ${error.message}`);
  });
  if (json.length > MAX_KEYSTORE_BYTES)
    throw new KeystoreError(`keystore ${path} is ${json.length} bytes; a keystore is under 1 KiB`);
  if (!isKeystoreWallet(json))
    throw new KeystoreError(
      `${path} is not a Web3 Secret Storage keystore (JSON with version 3 and crypto); create one with \`daotrain key new\` or \`cast wallet new\``,
    );
  let privateKey: string;
  try {
    ({ privateKey } = await decryptKeystore(json, password));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new KeystoreError(
      /password/i.test(reason)
        ? `wrong password for keystore ${path}`
        : `cannot decrypt keystore ${path}: ${reason}`,
    );
  }
  if (!isHex(privateKey) || privateKey.length !== 66)
    throw new KeystoreError(`keystore ${path} holds no 32-byte private key`);
  return privateKey;
}

/** A password file's content without its final line break (as `cast wallet --password-file` reads it). */
export async function readPasswordFile(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch((error: Error) => {
    throw new KeystoreError(`cannot read password file ${path}: ${error.message}`);
  });
  return text.replace(/[\r\n]+$/, "");
}

/** scrypt's cost: geth's "standard" N = 2^18 by default; tests pass a lower one to stay fast. */
export interface KeystoreOptions {
  scryptN?: number;
}

/** Encrypts `privateKey` under `password` into a new keystore file (mode 0600); returns its address. */
export async function writeKeystore(
  path: string,
  privateKey: Hex,
  password: string,
  options: KeystoreOptions = {},
): Promise<Hex> {
  const { address } = privateKeyToAccount(privateKey);
  const json = await encryptKeystore({ address, privateKey }, password, {
    scrypt: { N: options.scryptN ?? 2 ** 18 },
  });
  await writeFile(path, json, { mode: 0o600, flag: "wx" }).catch((error: NodeJS.ErrnoException) => {
    throw new KeystoreError(
      error.code === "EEXIST"
        ? `${path} exists already; a keystore is never overwritten, choose another file`
        : `cannot write keystore ${path}: ${error.message}`,
    );
  });
  return address;
}
