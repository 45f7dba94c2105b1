import {
  type Account,
  type Chain,
  type Hex,
  keccak256,
  type PublicClient,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  type Transport,
  type WalletClient,
} from "viem";
import { z } from "zod";

// Sending one transaction so that it lands once: a nonce from the account's nonce manager (one
// per key in the process, so concurrent activities never pick the same one), a replacement at
// the same nonce with higher fees when it is not mined in time, and a journal of what was sent
// so that a retried caller (a Temporal activity on another worker) finds its transaction
// instead of sending a second one.

type Wallet = WalletClient<Transport, Chain, Account>;

/** What was broadcast for one call: JSON-safe, so a Temporal activity can heartbeat it. */
export interface PendingTransaction {
  /** The call it carries: a remembered transaction is resumed only for the same call. */
  to: Hex;
  data: Hex;
  nonce: number;
  gas: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  /** Every hash sent at this nonce, the newest (highest fee) last. */
  hashes: Hex[];
}

const PendingTransactionSchema = z.object({
  to: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  data: z.string().regex(/^0x[0-9a-fA-F]*$/),
  nonce: z.number().int().min(0),
  gas: z.string().regex(/^[0-9]+$/),
  maxFeePerGas: z.string().regex(/^[0-9]+$/),
  maxPriorityFeePerGas: z.string().regex(/^[0-9]+$/),
  hashes: z
    .array(z.string().regex(/^0x[0-9a-fA-F]{64}$/))
    .min(1)
    .max(64),
});

/** Where a caller keeps what it sent, across its own retries (e.g. activity heartbeat details). */
export interface TransactionJournal {
  recall(): unknown;
  remember(pending: PendingTransaction): void;
  /** Aborted when the caller gave up (an activity timed out or was cancelled): stop waiting. */
  signal(): AbortSignal | undefined;
}

export interface TransactionPolicy {
  /** A transaction not mined after this long is replaced: same nonce, fees raised by `feeBumpPercent`. */
  replaceAfterMs: number;
  /** Above the 10 % that geth and anvil require of a replacement. */
  feeBumpPercent: number;
  /** Replacements stop here (fees ≤ initial × (1 + bump)^n); the transaction is then only awaited. */
  maxReplacements: number;
  pollingMs: number;
  journal?: TransactionJournal;
}

export const defaultTransactionPolicy: TransactionPolicy = {
  replaceAfterMs: 30_000,
  feeBumpPercent: 20,
  maxReplacements: 10,
  pollingMs: 100,
};

/** The nonce was used by a transaction this process does not know (e.g. a replacement a crashed attempt sent). */
export class NonceTakenError extends Error {
  override readonly name = "NonceTakenError";
  constructor(action: string, nonce: number) {
    super(
      `${action}: nonce ${nonce} was mined in a transaction this worker did not record; retrying re-reads the chain before sending again`,
    );
  }
}

export interface Call {
  to: Hex;
  data: Hex;
}

/**
 * Sends `call` from the wallet's account and returns its receipt once mined (successful or
 * reverted: the caller judges). A transaction remembered by the journal for the same call is
 * resumed: its receipt if one of its hashes was mined, else a replacement at its nonce.
 */
export async function submit(
  client: PublicClient<Transport, Chain>,
  wallet: Wallet,
  call: Call,
  action: string,
  policy: TransactionPolicy,
): Promise<TransactionReceipt> {
  const remembered = PendingTransactionSchema.safeParse(policy.journal?.recall());
  const resumable =
    remembered.success &&
    remembered.data.to.toLowerCase() === call.to.toLowerCase() &&
    remembered.data.data === call.data
      ? (remembered.data as PendingTransaction)
      : undefined;
  // A remembered transaction has waited already: outbid it at once (it, or a replacement whose
  // record was lost with the attempt that sent it) unless it was mined meanwhile.
  let pending = resumable ?? (await broadcastNew(client, wallet, call, policy));
  let due = resumable !== undefined;
  let replacements = 0;
  for (;;) {
    const receipt = due
      ? await anyReceipt(client, pending.hashes)
      : await awaitAnyReceipt(client, pending, policy);
    if (receipt) return receipt;
    if (await nonceUsed(client, wallet, pending.nonce)) {
      // Mined between the last poll and the nonce check, or by a transaction we do not hold.
      const late = await anyReceipt(client, pending.hashes);
      if (late) return late;
      throw new NonceTakenError(action, pending.nonce);
    }
    due = false;
    if (replacements >= policy.maxReplacements) continue;
    pending = await replace(client, wallet, pending, policy);
    replacements += 1;
  }
}

async function broadcastNew(
  client: PublicClient<Transport, Chain>,
  wallet: Wallet,
  call: Call,
  policy: TransactionPolicy,
): Promise<PendingTransaction> {
  const { account } = wallet;
  const [gas, fees] = await Promise.all([
    client.estimateGas({ account, to: call.to, data: call.data }),
    client.estimateFeesPerGas(),
  ]);
  const key = { address: account.address, chainId: client.chain.id };
  const nonce = account.nonceManager
    ? await account.nonceManager.consume({ ...key, client })
    : await client.getTransactionCount({ address: account.address, blockTag: "pending" });
  const pending: PendingTransaction = {
    ...call,
    nonce,
    gas: gas.toString(),
    maxFeePerGas: fees.maxFeePerGas.toString(),
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
    hashes: [],
  };
  try {
    return await broadcast(wallet, pending, policy);
  } catch (error) {
    // Never broadcast: give the nonce back, or every later transaction would wait behind a gap.
    account.nonceManager?.reset(key);
    throw error;
  }
}

/**
 * The same call at the same nonce with fees raised: whichever is mined first, the others cannot
 * be. A node refuses a replacement that does not outbid the one it holds (which may be one this
 * process never saw: a crashed attempt's), so a refused one is raised again, a few times.
 */
async function replace(
  client: PublicClient<Transport, Chain>,
  wallet: Wallet,
  pending: PendingTransaction,
  policy: TransactionPolicy,
): Promise<PendingTransaction> {
  const market = await client.estimateFeesPerGas();
  const raise = (paid: string, floor: bigint) => {
    const bumped = (BigInt(paid) * BigInt(100 + policy.feeBumpPercent)) / 100n + 1n;
    return (bumped > floor ? bumped : floor).toString();
  };
  let offer = pending;
  for (let tries = 1; ; tries++) {
    offer = {
      ...offer,
      maxFeePerGas: raise(offer.maxFeePerGas, market.maxFeePerGas),
      maxPriorityFeePerGas: raise(offer.maxPriorityFeePerGas, market.maxPriorityFeePerGas),
    };
    try {
      return await broadcast(wallet, offer, policy);
    } catch (error) {
      // Mined meanwhile ("nonce too low"): the caller's next poll finds the receipt.
      if (await nonceUsed(client, wallet, pending.nonce)) return pending;
      if (tries >= REPLACEMENT_TRIES) throw error;
    }
  }
}

/** Outbidding an unknown replacement: each try raises the fees by `feeBumpPercent` again. */
const REPLACEMENT_TRIES = 4;

/**
 * Signs here and records the hash before sending: a broadcast whose answer is lost (the node
 * took it, the connection dropped) is still found by the caller's retry.
 */
async function broadcast(
  wallet: Wallet,
  pending: PendingTransaction,
  policy: TransactionPolicy,
): Promise<PendingTransaction> {
  const serializedTransaction = await wallet.signTransaction({
    account: wallet.account,
    chain: wallet.chain,
    to: pending.to,
    data: pending.data,
    nonce: pending.nonce,
    gas: BigInt(pending.gas),
    maxFeePerGas: BigInt(pending.maxFeePerGas),
    maxPriorityFeePerGas: BigInt(pending.maxPriorityFeePerGas),
  });
  const sent = { ...pending, hashes: [...pending.hashes, keccak256(serializedTransaction)] };
  policy.journal?.remember(sent);
  await wallet.sendRawTransaction({ serializedTransaction });
  return sent;
}

/**
 * Polls the hashes until one is mined or `replaceAfterMs` passed, telling the journal at each
 * poll (an activity's heartbeat: it keeps the record fresh and lets a timed-out attempt learn
 * that it was abandoned, so two attempts do not outbid each other).
 */
async function awaitAnyReceipt(
  client: PublicClient<Transport, Chain>,
  pending: PendingTransaction,
  policy: TransactionPolicy,
): Promise<TransactionReceipt | undefined> {
  const deadline = Date.now() + policy.replaceAfterMs;
  for (;;) {
    policy.journal?.signal()?.throwIfAborted();
    const receipt = await anyReceipt(client, pending.hashes);
    if (receipt || Date.now() >= deadline) return receipt;
    policy.journal?.remember(pending);
    await new Promise((resolve) => setTimeout(resolve, policy.pollingMs));
  }
}

async function anyReceipt(
  client: PublicClient<Transport, Chain>,
  hashes: readonly Hex[],
): Promise<TransactionReceipt | undefined> {
  for (const hash of [...hashes].reverse()) {
    try {
      return await client.getTransactionReceipt({ hash });
    } catch (error) {
      if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
    }
  }
  return undefined;
}

async function nonceUsed(
  client: PublicClient<Transport, Chain>,
  wallet: Wallet,
  nonce: number,
): Promise<boolean> {
  return (await client.getTransactionCount({ address: wallet.account.address, blockTag: "latest" })) > nonce;
}
