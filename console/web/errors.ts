import {
  BaseError,
  ChainMismatchError,
  ContractFunctionRevertedError,
  HttpRequestError,
  InsufficientFundsError,
  UserRejectedRequestError,
} from "viem";
import { ConnectorChainMismatchError, ProviderNotFoundError } from "wagmi";
import { revertHint } from "../../governance/revertHints.ts";

/** A mined transaction whose receipt says it reverted (no revert reason reaches the receipt). */
export class TransactionRevertedError extends Error {
  override readonly name = "TransactionRevertedError";
  constructor(hash: string) {
    super(`Transaction ${hash} was mined but reverted; nothing changed on-chain.`);
  }
}

/** A sentence from the contracts' own hint ("the voter had no voting power …"), capitalized and closed. */
const sentence = (text: string) =>
  `${text.charAt(0).toUpperCase()}${text.slice(1)}${text.endsWith(".") ? "" : "."}`;

/**
 * One sentence a member can act on, for anything a wallet, the chain or a contract threw while
 * they voted, executed or claimed. Never a stack trace, never a raw RPC payload.
 */
export function explainError(error: unknown): string {
  if (error instanceof TransactionRevertedError) return error.message;
  if (error instanceof ProviderNotFoundError)
    return "No browser wallet was found: install one (any EIP-1193 wallet works), or on a local chain use the dev wallet.";
  if (error instanceof BaseError) {
    const found = (type: new (...args: never[]) => Error) => error.walk((e) => e instanceof type);
    if (found(UserRejectedRequestError)) return "You rejected the request in your wallet; nothing was sent.";
    if (found(ChainMismatchError) || found(ConnectorChainMismatchError))
      return "Your wallet is on another network than this DAO; switch networks and try again.";
    if (found(InsufficientFundsError))
      return "This account cannot pay the transaction fee: it needs some of the chain's native currency.";
    const reverted = found(ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      if (name) {
        const hint = revertHint(name);
        return `The chain refused this (${name})${hint ? `: ${sentence(hint)}` : "."}`;
      }
      return "The chain refused this transaction without saying why.";
    }
    if (found(HttpRequestError)) return "The chain's RPC did not answer; check the network and try again.";
    return sentence(error.shortMessage.split("\n")[0] ?? "The wallet reported an error");
  }
  if (error instanceof Error) return sentence(error.message.split("\n")[0] ?? "Something went wrong");
  return "Something went wrong; try again.";
}
