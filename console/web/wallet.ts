import { defineChain } from "viem";
import { type CreateConnectorFn, createConfig, createConnector, http } from "wagmi";
import { injected, mock } from "wagmi/connectors";
import { type ConsoleConfig, LOCAL_CHAIN_IDS } from "../api.ts";

export const DEV_WALLET_PREFIX = "dev-wallet-";

/**
 * One dev-wallet connector per unlocked account of a development chain: wagmi's mock connector,
 * which sends transactions to the node for it to sign (anvil signs for its dev accounts), renamed
 * so each account is a clearly labelled choice. Never built for any other chain.
 */
function devWallet(config: ConsoleConfig): CreateConnectorFn[] {
  if (!config.chain.local || !LOCAL_CHAIN_IDS.includes(config.chain.id)) return [];
  const recent = recentConnectorId();
  return config.devAccounts.map((account, index) => {
    const id = `${DEV_WALLET_PREFIX}${index}`;
    // The account connected last starts connected, so a reload keeps it as a browser wallet would.
    const create = mock({
      accounts: [account.address as `0x${string}`],
      features: { reconnect: true, defaultConnected: id === recent },
    });
    return createConnector((wagmi) => ({
      ...create(wagmi),
      id,
      name: `Dev wallet · ${account.address.slice(0, 8)}… (${account.label})`,
    }));
  });
}

/** The connector wagmi remembers from the last visit (its default storage: localStorage, key prefix "wagmi"). */
function recentConnectorId(): string | undefined {
  try {
    const stored = globalThis.localStorage?.getItem("wagmi.recentConnectorId");
    return stored ? (JSON.parse(stored) as string) : undefined;
  } catch {
    return undefined;
  }
}

/** wagmi for this DAO's chain: any injected EIP-1193 wallet (EIP-6963 discovery), plus the dev wallet on a local chain. */
export function wagmiConfig(config: ConsoleConfig) {
  const chain = defineChain({
    id: config.chain.id,
    name: config.chain.local ? `Local chain ${config.chain.id}` : `Chain ${config.chain.id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [config.chain.rpcUrl] } },
  });
  return createConfig({
    chains: [chain],
    transports: { [chain.id]: http(config.chain.rpcUrl) },
    connectors: [injected(), ...devWallet(config)],
    pollingInterval: 500,
  });
}
