import { type Hex, keccak256, toHex } from "viem";
import { connect, type Governance } from "../../governance/chain.ts";
import { deployLocalDao } from "../../governance/deploy.ts";
import type { Deployment } from "../../governance/deployment.ts";
import { increaseTime } from "../../governance/localChain.ts";
import type { ProposalDraft } from "../../governance/proposals.ts";
import { execute, propose, vote } from "../../governance/voting.ts";
import { type Anvil, startAnvil } from "../harness/anvil.ts";

export const TOKEN = 10n ** 18n;
export const MEMBER_POWER = 100n * TOKEN;

/** One anvil with the whole local DAO deployed once: three equal members, an operator, outsiders. */
export interface DaoFixture {
  anvil: Anvil;
  deployment: Deployment;
  deployer: Governance;
  members: [Governance, Governance, Governance];
  operator: Governance;
  /** Hold no tokens and no permission: cluster owners and strangers. */
  others: Governance[];
  /** Proposes as the first member, votes yes with `voters`, ends the vote, executes. */
  pass(draft: ProposalDraft, voters?: Governance[]): Promise<bigint>;
  stop(): Promise<void>;
}

export async function startDaoFixture(): Promise<DaoFixture> {
  const anvil = await startAnvil({ accounts: 20 });
  try {
    const [deployerKey, a, b, c, operatorKey, ...rest] = anvil.accounts;
    if (!deployerKey || !a || !b || !c || !operatorKey)
      throw new Error("anvil started with too few accounts");
    const deployment = await deployLocalDao({
      rpcUrl: anvil.rpcUrl,
      deployerKey: deployerKey.privateKey,
      members: [a, b, c].map((m) => ({ address: m.address, votingPower: MEMBER_POWER })),
      operator: operatorKey.address,
    });
    const session = (key: Hex) => connect({ deployment, privateKey: key });
    const members = (await Promise.all([a, b, c].map((m) => session(m.privateKey)))) as DaoFixture["members"];
    const fixture: DaoFixture = {
      anvil,
      deployment,
      deployer: await session(deployerKey.privateKey),
      members,
      operator: await session(operatorKey.privateKey),
      others: await Promise.all(rest.map((account) => session(account.privateKey))),
      async pass(draft, voters = members.slice(0, 2)) {
        const { proposalId } = await propose(members[0], draft);
        for (const voter of voters) await vote(voter, proposalId, "yes");
        await increaseTime(members[0], deployment.dao.voting.minDurationSeconds);
        await execute(members[0], proposalId);
        return proposalId;
      },
      stop: () => anvil.stop(),
    };
    return fixture;
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** A stand-in for a spec hash or Merkle root, distinct per label. */
export const id = (label: string): Hex => keccak256(toHex(label));
