import type { TokenVotingClient } from "@aragon/sdk-client";
import type { Governance } from "./chain.ts";
import { WalletRequiredError } from "./errors.ts";

type Sdk = typeof import("@aragon/sdk-client");
let sdk: Promise<Sdk> | undefined;

/**
 * The SDK brings ethers v5 and Aragon's contract artifacts, about a second of loading; it is
 * loaded on the first vote, proposal or execution, not by every process that reads the chain.
 */
export function loadSdk(): Promise<Sdk> {
  sdk ??= import("@aragon/sdk-client");
  return sdk;
}

/**
 * Aragon's SDK (ethers v5 inside) pointed at this deployment's contracts instead of Aragon's
 * published ones. Only its chain-calling methods are used: the ones that read proposals go
 * through Aragon's subgraph, which a local chain does not have (see README).
 */
export async function tokenVotingClient(governance: Governance, action: string): Promise<TokenVotingClient> {
  if (!governance.privateKey) throw new WalletRequiredError(action);
  const [{ Context, TokenVotingClient }, { JsonRpcProvider }, { Wallet }] = await Promise.all([
    loadSdk(),
    import("@ethersproject/providers"),
    import("@ethersproject/wallet"),
  ]);
  const { osx } = governance.deployment;
  // osx-commons-configs knows chain 31337 as "local"; the name only selects defaults we override.
  const network = { name: "local", chainId: governance.chain.id };
  const provider = new JsonRpcProvider(governance.rpcUrl, network);
  // ethers polls for receipts every 4 s by default; a local chain mines at once.
  provider.pollingInterval = 100;
  const context = new Context({
    network,
    signer: new Wallet(governance.privateKey, provider),
    web3Providers: [provider],
    DAOFactory: osx.daoFactory,
    DAORegistryProxy: osx.daoRegistry,
    PluginRepoRegistryProxy: osx.pluginRepoRegistry,
    PluginSetupProcessor: osx.pluginSetupProcessor,
    ENSRegistry: osx.ensRegistry,
    TokenVotingRepoProxy: osx.tokenVotingRepo,
    TokenVotingSetup: osx.tokenVotingSetup,
  });
  return new TokenVotingClient(context);
}

/** The SDK's proposal id: `<plugin address>_0x<hex number>`. */
export function sdkProposalId(tokenVoting: string, proposalId: bigint): string {
  return `${tokenVoting.toLowerCase()}_0x${proposalId.toString(16)}`;
}
