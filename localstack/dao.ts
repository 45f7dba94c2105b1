import type { Hex } from "viem";
import { connect, type Governance } from "../governance/chain.ts";
import { deployLocalDao } from "../governance/deploy.ts";
import type { Deployment } from "../governance/deployment.ts";
import { increaseTime } from "../governance/localChain.ts";
import type { ProposalDraft } from "../governance/proposals.ts";
import { execute, propose, vote } from "../governance/voting.ts";
import type { Anvil } from "./anvil.ts";

/** Governance tokens have 18 decimals. */
export const TOKEN = 10n ** 18n;
export const MEMBER_POWER = 100n * TOKEN;

/**
 * The local DAO on an anvil chain, with a session for every role. anvil's dev accounts are
 * assigned by index: 0 deploys, 1–3 are the members, 4 is the orchestrator's operator, and the
 * rest hold no tokens and no permission (cluster owners, strangers).
 */
export interface LocalDao {
  deployment: Deployment;
  deployer: Governance;
  members: [Governance, Governance, Governance];
  operator: Governance;
  operatorKey: Hex;
  others: Governance[];
  /**
   * Passes a proposal the way a healthy DAO would: the first member proposes, `voters` vote yes,
   * the local chain skips to the end of the voting period, and the proposal is executed.
   */
  pass(draft: ProposalDraft, voters?: Governance[]): Promise<PassedProposal>;
}

export interface PassedProposal {
  proposalId: bigint;
  proposeTx: Hex;
  executeTx: Hex;
}

export async function deployDao(anvil: Anvil, deploymentFile?: string): Promise<LocalDao> {
  const [deployerKey, a, b, c, operatorKey, ...rest] = anvil.accounts;
  if (!deployerKey || !a || !b || !c || !operatorKey) {
    throw new Error(`anvil has ${anvil.accounts.length} accounts; the local DAO needs at least 5`);
  }
  const deployment = await deployLocalDao({
    rpcUrl: anvil.rpcUrl,
    deployerKey: deployerKey.privateKey,
    members: [a, b, c].map((m) => ({ address: m.address, votingPower: MEMBER_POWER })),
    operator: operatorKey.address,
    ...(deploymentFile ? { deploymentFile } : {}),
  });
  const session = (key: Hex) => connect({ deployment, privateKey: key });
  const members = (await Promise.all([a, b, c].map((m) => session(m.privateKey)))) as LocalDao["members"];
  return {
    deployment,
    deployer: await session(deployerKey.privateKey),
    members,
    operator: await session(operatorKey.privateKey),
    operatorKey: operatorKey.privateKey,
    others: await Promise.all(rest.map((account) => session(account.privateKey))),
    async pass(draft, voters = members.slice(0, 2)) {
      const { proposalId, txHash: proposeTx } = await propose(members[0], draft);
      for (const voter of voters) await vote(voter, proposalId, "yes");
      await increaseTime(members[0], deployment.dao.voting.minDurationSeconds);
      const executeTx = await execute(members[0], proposalId);
      return { proposalId, proposeTx, executeTx };
    },
  };
}
