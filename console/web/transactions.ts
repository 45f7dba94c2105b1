import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { Address, Hex } from "viem";
import { type Config, useAccount, useConfig } from "wagmi";
import { simulateContract, waitForTransactionReceipt, writeContract } from "wagmi/actions";
import { runRegistryAbi } from "../../contracts/abi/RunRegistry.ts";
import { tokenVotingAbi } from "../../governance/osxAbi.ts";
import { useConsoleConfig } from "./context.ts";
import { TransactionRevertedError } from "./errors.ts";

/** TokenVoting's VoteOption enum. */
export const VOTE_OPTIONS = { abstain: 1, yes: 2, no: 3 } as const;
export type VoteChoice = keyof typeof VOTE_OPTIONS;

export type Send =
  | { kind: "vote"; proposalId: number; choice: VoteChoice }
  | { kind: "execute"; proposalId: number }
  | { kind: "claim"; runId: Hex };

/**
 * Simulates the call first (a revert surfaces with the contract's named error before the wallet
 * asks anything), sends it from the connected wallet, and waits for its receipt.
 */
async function send(
  wagmi: Config,
  account: Address,
  contracts: { tokenVoting: Address; runRegistry: Address },
  what: Send,
): Promise<Hex> {
  const voting = { account, address: contracts.tokenVoting, abi: tokenVotingAbi } as const;
  let hash: Hex;
  if (what.kind === "vote") {
    const args = [BigInt(what.proposalId), VOTE_OPTIONS[what.choice], false] as const;
    hash = await writeContract(
      wagmi,
      (await simulateContract(wagmi, { ...voting, functionName: "vote", args })).request,
    );
  } else if (what.kind === "execute") {
    const args = [BigInt(what.proposalId)] as const;
    hash = await writeContract(
      wagmi,
      (await simulateContract(wagmi, { ...voting, functionName: "execute", args })).request,
    );
  } else {
    const claim = {
      account,
      address: contracts.runRegistry,
      abi: runRegistryAbi,
      functionName: "claim",
    } as const;
    hash = await writeContract(
      wagmi,
      (await simulateContract(wagmi, { ...claim, args: [what.runId] })).request,
    );
  }
  const receipt = await waitForTransactionReceipt(wagmi, { hash });
  if (receipt.status !== "success") throw new TransactionRevertedError(hash);
  return hash;
}

/** A vote, an execution or a claim from the connected wallet; every page's data refreshes after it. */
export function useSend() {
  const wagmi = useConfig();
  const config = useConsoleConfig();
  const { address } = useAccount();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (what: Send) => {
      if (!address) throw new Error("Connect a wallet first.");
      return send(
        wagmi,
        address,
        {
          tokenVoting: config.dao.tokenVoting as Address,
          runRegistry: config.contracts.runRegistry as Address,
        },
        what,
      );
    },
    onSettled: () => queryClient.invalidateQueries(),
  });
}
