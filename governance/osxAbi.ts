import { parseAbi } from "viem";

// The parts of Aragon's contracts that daotrain calls at run time, typed for viem. They are
// declared here rather than imported from @aragon/osx-ethers so that reading the chain does not
// load the packages' bytecode and ethers (a second per process); aragon.ts keeps those for
// deploying. tests/governance/aragon.test.ts checks every entry against the packages' ABIs.

/** The part of TokenVoting v1.0.0 daotrain calls (that package's typechain ABI is not `as const`). */
export const tokenVotingAbi = parseAbi([
  "struct Action { address to; uint256 value; bytes data; }",
  "struct ProposalParameters { uint8 votingMode; uint32 supportThreshold; uint64 startDate; uint64 endDate; uint64 snapshotBlock; uint256 minVotingPower; }",
  "struct Tally { uint256 abstain; uint256 yes; uint256 no; }",
  "function getProposal(uint256 _proposalId) view returns (bool open, bool executed, ProposalParameters parameters, Tally tally, Action[] actions, uint256 allowFailureMap)",
  "function canExecute(uint256 _proposalId) view returns (bool)",
  "function canVote(uint256 _proposalId, address _voter, uint8 _voteOption) view returns (bool)",
  "function getVoteOption(uint256 _proposalId, address _voter) view returns (uint8)",
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

/** The DAO's permission manager calls proposals encode, and the errors the DAO raises. */
export const daoPermissionsAbi = parseAbi([
  "function grant(address _where, address _who, bytes32 _permissionId)",
  "function revoke(address _where, address _who, bytes32 _permissionId)",
  "function hasPermission(address _where, address _who, bytes32 _permissionId, bytes _data) view returns (bool)",
  "error ActionFailed(uint256 index)",
  "error InsufficientGas()",
  "error TooManyActions()",
  "error ReentrantCall()",
  "error Unauthorized(address where, address who, bytes32 permissionId)",
]);
