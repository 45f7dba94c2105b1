import { type Address, getAddress, type Hex, keccak256, slice, toHex } from "viem";
import { type ChainSession, requireWallet } from "./chain.ts";
import { LocalChainRequiredError } from "./errors.ts";

// Helpers that only a development chain (anvil) offers. Production chains never need them:
// time passes by itself there, and the contracts they serve were deployed long ago.

async function anvilRequest(
  session: ChainSession,
  method: string,
  params: readonly unknown[],
): Promise<unknown> {
  try {
    return await session.publicClient.request({ method, params } as never);
  } catch (error) {
    if (String(error).includes("Method not found") || String(error).includes("does not exist")) {
      throw new LocalChainRequiredError(method, session.rpcUrl);
    }
    throw error;
  }
}

/** The accounts the development node signs for (`eth_accounts`): anvil's dev accounts. */
export async function unlockedAccounts(session: ChainSession): Promise<Address[]> {
  const accounts = await anvilRequest(session, "eth_accounts", []);
  return (accounts as string[]).map((a) => getAddress(a));
}

/** Moves the chain's clock forward and mines a block, so a proposal's vote can end. */
export async function increaseTime(session: ChainSession, seconds: number): Promise<void> {
  await anvilRequest(session, "evm_increaseTime", [toHex(seconds)]);
  await anvilRequest(session, "evm_mine", []);
}

/**
 * Installs a contract whose creation code exceeds EIP-3860's 49,152 bytes, which anvil refuses
 * even with --disable-code-size-limit. The creation code is placed at a fixed address and called:
 * an eth_call returns the runtime code (with its immutables set) and a transaction performs the
 * constructor's effects (the contracts it creates land at the same addresses as in the call);
 * then the runtime code replaces the creation code. The result is the state a real deployment
 * would leave, at a deterministic address derived from `label`.
 */
export async function installOversizedContract(
  session: ChainSession,
  creationCode: Hex,
  label: string,
): Promise<Address> {
  const wallet = requireWallet(session, `installing ${label}`);
  const address = slice(keccak256(toHex(`daotrain/${label}`)), 12);
  // An earlier deployment on this chain installed it already; its constructor cannot run twice
  // (its CREATEs would collide), and the code is the same.
  if (await session.publicClient.getCode({ address })) return address;
  await anvilRequest(session, "anvil_setCode", [address, creationCode]);
  // A contract account starts at nonce 1 (EIP-161); CREATE addresses follow from it.
  await anvilRequest(session, "anvil_setNonce", [address, "0x1"]);
  const gas = 25_000_000n;
  const { data: runtime } = await session.publicClient.call({ to: address, gas });
  if (!runtime || runtime === "0x") throw new Error(`installing ${label}: its constructor returned no code`);
  const hash = await wallet.sendTransaction({ to: address, gas });
  const receipt = await session.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`installing ${label}: its constructor reverted`);
  await anvilRequest(session, "anvil_setCode", [address, runtime]);
  return address;
}
