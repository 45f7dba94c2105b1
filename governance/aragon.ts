// Aragon OSx's contracts as viem sees them: the framework from @aragon/osx-ethers 1.4.0, the
// TokenVoting plugin from its v1.0.0 line. The typechain factories carry `as const` ABIs and
// the creation bytecode; nothing else of ethers is used here.
import {
  DAO__factory,
  DAOFactory__factory,
  DAORegistry__factory,
  ENSRegistry__factory,
  ENSSubdomainRegistrar__factory,
  PluginRepoFactory__factory,
  PluginRepoRegistry__factory,
  PluginSetupProcessor__factory,
  PublicResolver__factory,
} from "@aragon/osx-ethers";
import { TokenVoting__factory, TokenVotingSetup__factory } from "@aragon/osx-ethers-v1.0.0";
import erc1967Proxy from "@openzeppelin/contracts/build/contracts/ERC1967Proxy.json" with { type: "json" };
import type { Hex } from "viem";

export const daoAbi = DAO__factory.abi;
export const daoBytecode = DAO__factory.bytecode as Hex;
export const daoFactoryAbi = DAOFactory__factory.abi;
export const daoFactoryBytecode = DAOFactory__factory.bytecode as Hex;
export const daoRegistryAbi = DAORegistry__factory.abi;
export const daoRegistryBytecode = DAORegistry__factory.bytecode as Hex;
export const ensRegistryAbi = ENSRegistry__factory.abi;
export const ensRegistryBytecode = ENSRegistry__factory.bytecode as Hex;
export const publicResolverAbi = PublicResolver__factory.abi;
export const publicResolverBytecode = PublicResolver__factory.bytecode as Hex;
export const ensSubdomainRegistrarAbi = ENSSubdomainRegistrar__factory.abi;
export const ensSubdomainRegistrarBytecode = ENSSubdomainRegistrar__factory.bytecode as Hex;
export const pluginRepoRegistryAbi = PluginRepoRegistry__factory.abi;
export const pluginRepoRegistryBytecode = PluginRepoRegistry__factory.bytecode as Hex;
export const pluginRepoFactoryAbi = PluginRepoFactory__factory.abi;
export const pluginRepoFactoryBytecode = PluginRepoFactory__factory.bytecode as Hex;
export const pluginSetupProcessorAbi = PluginSetupProcessor__factory.abi;
export const pluginSetupProcessorBytecode = PluginSetupProcessor__factory.bytecode as Hex;
/** The package's complete ABI, to check osxAbi.ts's typed subset against. */
export const tokenVotingPackageAbi = TokenVoting__factory.abi;
export const tokenVotingSetupBytecode = TokenVotingSetup__factory.bytecode as Hex;

/** OpenZeppelin's ERC1967Proxy: OSx's deploy scripts put every upgradeable framework contract behind one. */
export const erc1967ProxyAbi = [
  {
    type: "constructor",
    stateMutability: "payable",
    inputs: [
      { name: "implementation", type: "address" },
      { name: "_data", type: "bytes" },
    ],
  },
] as const;
export const erc1967ProxyBytecode = erc1967Proxy.bytecode as Hex;

/** TokenVoting's VotingMode enum, in its Solidity order. */
export const VOTING_MODES = { Standard: 0, EarlyExecution: 1, VoteReplacement: 2 } as const;
