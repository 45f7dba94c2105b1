import {
  type Address,
  encodeAbiParameters,
  type Hex,
  parseAbiParameters,
  parseEventLogs,
  stringToHex,
  zeroAddress,
} from "viem";
import {
  checkpointRegistryAbi,
  checkpointRegistryBytecode,
  clusterRegistryAbi,
  clusterRegistryBytecode,
  daoTrainTokenAbi,
  daoTrainTokenBytecode,
  datasetRegistryAbi,
  datasetRegistryBytecode,
  runRegistryAbi,
  runRegistryBytecode,
} from "../contracts/abi/index.ts";
import { parseWith } from "../spec/errors.ts";
import { daoFactoryAbi, daoRegistryAbi, pluginSetupProcessorAbi, VOTING_MODES } from "./aragon.ts";
import { type ChainSession, connect, deploy, openChain, requireWallet, send } from "./chain.ts";
import { Deployment, type VotingSettings, writeDeployment } from "./deployment.ts";
import { DAO_DOMAIN, deployFramework, type OsxAddresses, publishTokenVoting } from "./framework.ts";
import { increaseTime } from "./localChain.ts";
import { dataUri } from "./metadata.ts";
import { bindContractsProposal } from "./proposals.ts";
import { execute, propose, vote } from "./voting.ts";

export interface Member {
  address: Address;
  /** Governance token base units minted to the member; its voting power. */
  votingPower: bigint;
}

export interface DeployLocalDaoOptions {
  rpcUrl: string;
  deployerKey: Hex;
  members: Member[];
  /** The orchestrator's address; the DAO grants it OPERATOR_PERMISSION by proposal. */
  operator: Address;
  /**
   * Tokens minted for the DAO treasury (runs are funded from it); by default as many as all
   * members hold together. It votes the DAO's first proposal, then moves to the DAO.
   */
  treasury?: bigint;
  voting?: Partial<VotingSettings>;
  /** ENS label under dao.eth. */
  subdomain?: string;
  /** Where to write the deployment; nothing is written when omitted. */
  deploymentFile?: string;
}

/**
 * Quick local votes: one hour (TokenVoting's minimum) that tests and demos skip with
 * evm_increaseTime; more than half of the votes cast must be yes, and at least a quarter of
 * all tokens must vote. With the default treasury (half the supply) one of three equal members
 * falls short of participation and two reach it.
 */
export const LOCAL_VOTING: VotingSettings = {
  votingMode: "EarlyExecution",
  supportThreshold: 500_000,
  minParticipation: 250_000,
  minDurationSeconds: 3600,
  minProposerVotingPower: "1",
};

const tokenVotingInstallParameters = parseAbiParameters(
  "(uint8 votingMode, uint32 supportThreshold, uint32 minParticipation, uint64 minDuration, uint256 minProposerVotingPower), (address addr, string name, string symbol), (address[] receivers, uint256[] amounts)",
);

/** The data TokenVotingSetup v1.0.0's prepareInstallation decodes: settings, an existing token, no minting. */
function tokenVotingInstallData(voting: VotingSettings, token: Address): Hex {
  return encodeAbiParameters(tokenVotingInstallParameters, [
    {
      votingMode: VOTING_MODES[voting.votingMode],
      supportThreshold: voting.supportThreshold,
      minParticipation: voting.minParticipation,
      minDuration: BigInt(voting.minDurationSeconds),
      minProposerVotingPower: BigInt(voting.minProposerVotingPower),
    },
    { addr: token, name: "", symbol: "" },
    { receivers: [], amounts: [] },
  ]);
}

/**
 * Creates the DAO through OSx's DAOFactory with TokenVoting installed over `token`. This is
 * viem, not the SDK: the SDK's createDao accepts only an ipfs:// metadata URI and looks the
 * TokenVoting repo up in Aragon's published addresses (see README).
 */
async function createDao(
  session: ChainSession,
  osx: OsxAddresses,
  settings: { subdomain: string; voting: VotingSettings; token: Address },
): Promise<{ dao: Address; tokenVoting: Address }> {
  const receipt = await send(session, {
    address: osx.daoFactory,
    abi: daoFactoryAbi,
    functionName: "createDao",
    args: [
      {
        trustedForwarder: zeroAddress,
        daoURI: "",
        subdomain: settings.subdomain,
        metadata: stringToHex(
          dataUri({ name: "daotrain", description: "Decides what is trained and released" }),
        ),
      },
      [
        {
          pluginSetupRef: { versionTag: { release: 1, build: 1 }, pluginSetupRepo: osx.tokenVotingRepo },
          data: tokenVotingInstallData(settings.voting, settings.token),
        },
      ],
    ],
  });
  const [registered] = parseEventLogs({
    abi: daoRegistryAbi,
    eventName: "DAORegistered",
    logs: receipt.logs,
  });
  const [installed] = parseEventLogs({
    abi: pluginSetupProcessorAbi,
    eventName: "InstallationApplied",
    logs: receipt.logs,
  });
  if (!registered || !installed)
    throw new Error("creating the DAO: DAOFactory emitted no DAORegistered/InstallationApplied");
  return { dao: registered.args.dao, tokenVoting: installed.args.plugin };
}

async function deployRegistries(
  session: ChainSession,
  dao: Address,
  token: Address,
): Promise<Deployment["contracts"]> {
  const datasetRegistry = await deploy(session, {
    name: "DatasetRegistry",
    abi: datasetRegistryAbi,
    bytecode: datasetRegistryBytecode,
    args: [dao],
  });
  const clusterRegistry = await deploy(session, {
    name: "ClusterRegistry",
    abi: clusterRegistryAbi,
    bytecode: clusterRegistryBytecode,
    args: [dao],
  });
  const runRegistry = await deploy(session, {
    name: "RunRegistry",
    abi: runRegistryAbi,
    bytecode: runRegistryBytecode,
    args: [dao, token, datasetRegistry, clusterRegistry],
  });
  const checkpointRegistry = await deploy(session, {
    name: "CheckpointRegistry",
    abi: checkpointRegistryAbi,
    bytecode: checkpointRegistryBytecode,
    args: [dao, runRegistry],
  });
  return { datasetRegistry, clusterRegistry, runRegistry, checkpointRegistry };
}

/**
 * Deploys the whole local governance stack on a development chain and returns (and optionally
 * writes) its addresses: the OSx framework, TokenVoting v1.0.0 published in a plugin repo, the
 * governance token held by the members and the treasury, a DAO with TokenVoting over it,
 * daotrain's registries bound to the DAO, and the DAO's first proposal executed: it governs the
 * registries and the orchestrator holds OPERATOR_PERMISSION.
 */
export async function deployLocalDao(options: DeployLocalDaoOptions): Promise<Deployment> {
  const voting = { ...LOCAL_VOTING, ...options.voting };
  const treasury = options.treasury ?? options.members.reduce((sum, m) => sum + m.votingPower, 0n);
  if (treasury <= 0n)
    throw new Error("deployLocalDao: the treasury must hold tokens; it votes the DAO's first proposal");
  const session = await openChain(options.rpcUrl, options.deployerKey);
  const deployer = requireWallet(session, "deploying the DAO").account.address;
  const startBlock = Number(await session.publicClient.getBlockNumber());

  const framework = await deployFramework(session);
  const osx: OsxAddresses = { ...framework, ...(await publishTokenVoting(session, framework)) };
  const token = await deploy(session, {
    name: "DaoTrainToken",
    abi: daoTrainTokenAbi,
    bytecode: daoTrainTokenBytecode,
    args: [
      "daotrain governance",
      "TRAIN",
      [...options.members.map((m) => m.address), deployer],
      [...options.members.map((m) => m.votingPower), treasury],
    ],
  });
  const subdomain = options.subdomain ?? "daotrain";
  const { dao, tokenVoting } = await createDao(session, osx, { subdomain, voting, token });
  const contracts = await deployRegistries(session, dao, token);

  const deployment = parseWith(
    Deployment,
    {
      format: "daotrain-deployment/1",
      chainId: session.chain.id,
      rpcUrl: options.rpcUrl,
      startBlock,
      osx,
      dao: { address: dao, ensName: `${subdomain}.${DAO_DOMAIN}`, tokenVoting, token, voting },
      contracts,
      operator: options.operator,
    },
    "deployment",
  );
  await bootstrap(deployment, options.deployerKey, treasury);
  if (options.deploymentFile) await writeDeployment(deployment, options.deploymentFile);
  return deployment;
}

/** The founding vote: the treasury tokens, still with the deployer, pass the binding proposal. */
async function bootstrap(deployment: Deployment, deployerKey: Hex, treasury: bigint): Promise<void> {
  const governance = await connect({ deployment, privateKey: deployerKey });
  const { proposalId } = await propose(governance, bindContractsProposal(deployment));
  await vote(governance, proposalId, "yes");
  await increaseTime(governance, deployment.dao.voting.minDurationSeconds);
  await execute(governance, proposalId);
  await send(governance, {
    address: deployment.dao.token,
    abi: daoTrainTokenAbi,
    functionName: "transfer",
    args: [deployment.dao.address, treasury],
  });
}
