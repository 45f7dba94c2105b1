import type { Command } from "commander";
import type { Address } from "viem";
import { requireWallet } from "../../governance/chain.ts";
import { getLedger, getRun } from "../../governance/reads.ts";
import { claimRewards } from "../../governance/writes.ts";
import { CliError } from "../program.ts";
import {
  address,
  bytes32,
  type ChainOptions,
  connectFrom,
  printJson,
  tokens,
  withChainOptions,
} from "./governanceOptions.ts";

export function register(program: Command): void {
  const rewards = program
    .command("rewards")
    .description(
      "what the compute ledger owes a contributor in a run, and claiming it from the run's escrow",
    );

  withChainOptions(
    rewards
      .command("show")
      .description("earned, claimed and claimable rewards of an account in a run")
      .argument("<runId>", "the run id (0x + 64 hex digits)", bytes32)
      .argument("<account>", "the contributor's address (a cluster owner)", address),
    { write: false },
  ).action(async (runId: `0x${string}`, account: Address, options: ChainOptions) => {
    const governance = await connectFrom(options);
    const [ledger, run] = await Promise.all([
      getLedger(governance, runId, account),
      getRun(governance, runId),
    ]);
    if (options.json) return printJson({ runId, account, ...ledger, escrow: run.escrow });
    process.stdout.write(
      `${account} in run ${runId}: earned ${tokens(ledger.earned)}, claimed ${tokens(ledger.claimed)}, claimable ${tokens(ledger.claimable)} tokens\n` +
        `escrow: funded ${tokens(run.escrow.funded)}, paid ${tokens(run.escrow.paid)}, holds ${tokens(run.escrow.balance)}\n`,
    );
  });

  withChainOptions(
    rewards
      .command("claim")
      .description("pay the signing account everything the ledger owes it in the run")
      .argument("<runId>", "the run id (0x + 64 hex digits)", bytes32),
    { write: true },
  ).action(async (runId: `0x${string}`, options: ChainOptions) => {
    const governance = await connectFrom(options);
    const account = requireWallet(governance, "claiming rewards").account.address;
    const { claimable } = await getLedger(governance, runId, account);
    if (claimable === 0n) throw new CliError(`${account} has nothing to claim in run ${runId}`);
    const sent = await claimRewards(governance, runId);
    if (options.json) return printJson({ runId, account, claimed: claimable, txHash: sent.txHash });
    process.stdout.write(`claimed ${tokens(claimable)} tokens for ${account} (tx ${sent.txHash})\n`);
  });
}
