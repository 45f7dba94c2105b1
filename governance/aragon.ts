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
import { type Hex, parseAbi } from "viem";

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
/**
 * The part of TokenVoting v1.0.0 daotrain calls, typed for viem: that package's typechain ABI is
 * not `as const`. tests/governance/aragon.test.ts checks every entry against the package's ABI.
 */
export const tokenVotingAbi = parseAbi([
  "struct Action { address to; uint256 value; bytes data; }",
  "struct ProposalParameters { uint8 votingMode; uint32 supportThreshold; uint64 startDate; uint64 endDate; uint64 snapshotBlock; uint256 minVotingPower; }",
  "struct Tally { uint256 abstain; uint256 yes; uint256 no; }",
  "function getProposal(uint256 _proposalId) view returns (bool open, bool executed, ProposalParameters parameters, Tally tally, Action[] actions, uint256 allowFailureMap)",
  "function canExecute(uint256 _proposalId) view returns (bool)",
  "function canVote(uint256 _proposalId, address _voter, uint8 _voteOption) view returns (bool)",
  "function totalVotingPower(uint256 _blockNumber) view returns (uint256)",
  "function proposalCount() view returns (uint256)",
  "function getVotingToken() view returns (address)",
  "function createProposal(bytes _metadata, Action[] _actions, uint256 _allowFailureMap, uint64 _startDate, uint64 _endDate, uint8 _voteOption, bool _tryEarlyExecution) returns (uint256 proposalId)",
  "function vote(uint256 _proposalId, uint8 _voteOption, bool _tryEarlyExecution)",
  "function execute(uint256 _proposalId)",
  "event ProposalCreated(uint256 indexed proposalId, address indexed creator, uint64 startDate, uint64 endDate, bytes metadata, Action[] actions, uint256 allowFailureMap)",
  "event VoteCast(uint256 indexed proposalId, address indexed voter, uint8 voteOption, uint256 votingPower)",
  "event ProposalExecuted(uint256 indexed proposalId)",
  "error DaoUnauthorized(address dao, address where, address who, bytes32 permissionId)",
  "error DateOutOfBounds(uint64 limit, uint64 actual)",
  "error NoVotingPower()",
  "error ProposalCreationForbidden(address sender)",
  "error ProposalExecutionForbidden(uint256 proposalId)",
  "error VoteCastForbidden(uint256 proposalId, address account, uint8 voteOption)",
]);
/** The package's complete ABI, to check the typed subset against. */
export const tokenVotingPackageAbi = TokenVoting__factory.abi;
export const tokenVotingSetupAbi = TokenVotingSetup__factory.abi;
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

/** TokenVoting's VoteOption and VotingMode enums, in their Solidity order. */
export const VOTE_OPTIONS = { none: 0, abstain: 1, yes: 2, no: 3 } as const;
export const VOTING_MODES = { Standard: 0, EarlyExecution: 1, VoteReplacement: 2 } as const;
