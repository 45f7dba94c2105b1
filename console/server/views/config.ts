import { formatUnits } from "viem";
import { unlockedAccounts } from "../../../governance/localChain.ts";
import { TOKEN_DECIMALS } from "../../../governance/proposals.ts";
import { listClusters, tokenBalance, tokenSymbol } from "../../../governance/reads.ts";
import { type ConsoleConfig, LOCAL_CHAIN_IDS } from "../../api.ts";
import type { ConsoleSources } from "../sources.ts";

/** The dev wallet offers at most this many of the development chain's accounts. */
const MAX_DEV_ACCOUNTS = 12;

/**
 * The development chain's unlocked accounts, each labelled with the role it plays (member,
 * cluster owner, operator), for the dev wallet. The node signs for them, so no key is involved.
 */
async function devAccounts(sources: ConsoleSources, symbol: string): Promise<ConsoleConfig["devAccounts"]> {
  const { governance } = sources;
  const accounts = (await unlockedAccounts(governance)).slice(0, MAX_DEV_ACCOUNTS);
  const clusters = await listClusters(governance);
  return Promise.all(
    accounts.map(async (address) => {
      const roles: string[] = [];
      const balance = await tokenBalance(governance, address);
      if (balance > 0n) roles.push(`member, ${formatUnits(balance, TOKEN_DECIMALS)} ${symbol}`);
      if (address === governance.deployment.operator) roles.push("orchestrator (operator)");
      for (const cluster of clusters)
        if (cluster.owner === address)
          roles.push(`owner of cluster ${cluster.metadata || cluster.clusterId}`);
      return { address, label: roles.length > 0 ? roles.join("; ") : "no tokens, no cluster" };
    }),
  );
}

export async function configView(
  sources: ConsoleSources,
  options: { browserRpcUrl: string; liveStatus: boolean },
): Promise<ConsoleConfig> {
  const { deployment } = sources.governance;
  const local = LOCAL_CHAIN_IDS.includes(deployment.chainId);
  const symbol = await tokenSymbol(sources.governance);
  return {
    chain: { id: deployment.chainId, rpcUrl: options.browserRpcUrl, local },
    dao: {
      address: deployment.dao.address,
      ensName: deployment.dao.ensName,
      tokenVoting: deployment.dao.tokenVoting,
      token: deployment.dao.token,
    },
    contracts: deployment.contracts,
    token: { symbol, decimals: TOKEN_DECIMALS },
    voting: {
      votingMode: deployment.dao.voting.votingMode,
      supportThreshold: deployment.dao.voting.supportThreshold,
      minParticipation: deployment.dao.voting.minParticipation,
      minDurationSeconds: deployment.dao.voting.minDurationSeconds,
    },
    devAccounts: local ? await devAccounts(sources, symbol) : [],
    liveStatus: options.liveStatus,
  };
}
