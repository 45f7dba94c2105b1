import {
  type Abi,
  type Address,
  encodeFunctionData,
  type Hex,
  keccak256,
  labelhash,
  namehash,
  parseEventLogs,
  stringToHex,
  toBytes,
  zeroAddress,
  zeroHash,
} from "viem";
import {
  daoAbi,
  daoBytecode,
  daoFactoryAbi,
  daoFactoryBytecode,
  daoRegistryAbi,
  daoRegistryBytecode,
  ensRegistryAbi,
  ensRegistryBytecode,
  ensSubdomainRegistrarAbi,
  ensSubdomainRegistrarBytecode,
  erc1967ProxyAbi,
  erc1967ProxyBytecode,
  pluginRepoFactoryAbi,
  pluginRepoFactoryBytecode,
  pluginRepoRegistryAbi,
  pluginRepoRegistryBytecode,
  pluginSetupProcessorAbi,
  pluginSetupProcessorBytecode,
  publicResolverAbi,
  publicResolverBytecode,
  tokenVotingSetupBytecode,
} from "./aragon.ts";
import { type ChainSession, deploy, requireWallet, send } from "./chain.ts";
import type { Deployment } from "./deployment.ts";
import { installOversizedContract } from "./localChain.ts";
import { dataUri } from "./metadata.ts";

// The deployment follows OSx v1.4.0's own scripts (packages/contracts/deploy/new/): a management
// DAO owned by the deployer, ENS with the dao.eth and plugin.dao.eth domains handed to it,
// subdomain registrars, the DAO and plugin repo registries behind ERC-1967 proxies, the repo
// factory, the plugin setup processor and the DAO factory, then the permissions that wire them.

export const DAO_DOMAIN = "dao.eth";
export const PLUGIN_DOMAIN = "plugin.dao.eth";
const MANAGEMENT_DAO_SUBDOMAIN = "management";
const TOKEN_VOTING_SUBDOMAIN = "token-voting";

export type OsxAddresses = Deployment["osx"];

const permission = (name: string): Hex => keccak256(toBytes(name));
const GRANT = 0;
const REVOKE = 1;

/** The permissions a DAO gives itself, as OSx's deploy helpers list them (DAO_PERMISSIONS). */
const DAO_SELF_PERMISSIONS = [
  "ROOT_PERMISSION",
  "UPGRADE_DAO_PERMISSION",
  "SET_SIGNATURE_VALIDATOR_PERMISSION",
  "SET_TRUSTED_FORWARDER_PERMISSION",
  "SET_METADATA_PERMISSION",
  "REGISTER_STANDARD_CALLBACK_PERMISSION",
];

interface PermissionChange {
  operation: typeof GRANT | typeof REVOKE;
  where: Address;
  who: Address;
  permission: string;
}

async function applyPermissions(
  session: ChainSession,
  dao: Address,
  changes: PermissionChange[],
): Promise<void> {
  await send(session, {
    address: dao,
    abi: daoAbi,
    functionName: "applyMultiTargetPermissions",
    args: [
      changes.map((c) => ({
        operation: c.operation,
        where: c.where,
        who: c.who,
        condition: zeroAddress,
        permissionId: permission(c.permission),
      })),
    ],
  });
}

async function deployBehindProxy(
  session: ChainSession,
  name: string,
  implementation: { abi: Abi; bytecode: Hex },
  initializer: Hex,
): Promise<Address> {
  const logic = await deploy(session, { name: `${name} implementation`, ...implementation });
  return deploy(session, {
    name: `${name} proxy`,
    abi: erc1967ProxyAbi,
    bytecode: erc1967ProxyBytecode,
    args: [logic, initializer],
  });
}

async function deployEns(session: ChainSession, owner: Address) {
  const ensRegistry = await deploy(session, {
    name: "ENSRegistry",
    abi: ensRegistryAbi,
    bytecode: ensRegistryBytecode,
  });
  const publicResolver = await deploy(session, {
    name: "PublicResolver",
    abi: publicResolverAbi,
    bytecode: publicResolverBytecode,
    args: [ensRegistry, zeroAddress],
  });
  // eth, dao.eth, plugin.dao.eth: each created by the owner of its parent.
  for (const [parent, label] of [
    ["", "eth"],
    ["eth", "dao"],
    [DAO_DOMAIN, "plugin"],
  ] as const) {
    await send(session, {
      address: ensRegistry,
      abi: ensRegistryAbi,
      functionName: "setSubnodeRecord",
      args: [parent ? namehash(parent) : zeroHash, labelhash(label), owner, publicResolver, 0n],
    });
  }
  return { ensRegistry, publicResolver };
}

/** Deploys the OSx framework with the deployer as the management DAO's root, as OSx does. */
export async function deployFramework(
  session: ChainSession,
): Promise<Omit<OsxAddresses, "tokenVotingSetup" | "tokenVotingRepo">> {
  const deployer = requireWallet(session, "deploying the OSx framework").account.address;

  const managementDao = await deployBehindProxy(
    session,
    "ManagementDAO",
    { abi: daoAbi, bytecode: daoBytecode },
    encodeFunctionData({ abi: daoAbi, functionName: "initialize", args: ["0x", deployer, zeroAddress, ""] }),
  );
  await applyPermissions(session, managementDao, [
    { operation: GRANT, where: managementDao, who: deployer, permission: "EXECUTE_PERMISSION" },
    ...DAO_SELF_PERMISSIONS.map((p) => ({
      operation: GRANT as typeof GRANT,
      where: managementDao,
      who: managementDao,
      permission: p,
    })),
  ]);

  const { ensRegistry, publicResolver } = await deployEns(session, deployer);
  for (const domain of ["", "eth", DAO_DOMAIN, PLUGIN_DOMAIN]) {
    await send(session, {
      address: ensRegistry,
      abi: ensRegistryAbi,
      functionName: "setOwner",
      args: [domain ? namehash(domain) : zeroHash, managementDao],
    });
  }

  const registrar = { abi: ensSubdomainRegistrarAbi, bytecode: ensSubdomainRegistrarBytecode };
  const registrarInit = (domain: string) =>
    encodeFunctionData({
      abi: ensSubdomainRegistrarAbi,
      functionName: "initialize",
      args: [managementDao, ensRegistry, namehash(domain)],
    });
  const daoSubdomainRegistrar = await deployBehindProxy(
    session,
    "DAOENSSubdomainRegistrar",
    registrar,
    registrarInit(DAO_DOMAIN),
  );
  const pluginSubdomainRegistrar = await deployBehindProxy(
    session,
    "PluginENSSubdomainRegistrar",
    registrar,
    registrarInit(PLUGIN_DOMAIN),
  );
  // The management DAO owns the domains; the registrars create subdomains as its operators.
  await send(session, {
    address: managementDao,
    abi: daoAbi,
    functionName: "execute",
    args: [
      stringToHex("ENS_Permissions", { size: 32 }),
      [daoSubdomainRegistrar, pluginSubdomainRegistrar].map((operator) => ({
        to: ensRegistry,
        value: 0n,
        data: encodeFunctionData({
          abi: ensRegistryAbi,
          functionName: "setApprovalForAll",
          args: [operator, true],
        }),
      })),
      0n,
    ],
  });

  const daoRegistry = await deployBehindProxy(
    session,
    "DAORegistry",
    { abi: daoRegistryAbi, bytecode: daoRegistryBytecode },
    encodeFunctionData({
      abi: daoRegistryAbi,
      functionName: "initialize",
      args: [managementDao, daoSubdomainRegistrar],
    }),
  );
  const pluginRepoRegistry = await deployBehindProxy(
    session,
    "PluginRepoRegistry",
    { abi: pluginRepoRegistryAbi, bytecode: pluginRepoRegistryBytecode },
    encodeFunctionData({
      abi: pluginRepoRegistryAbi,
      functionName: "initialize",
      args: [managementDao, pluginSubdomainRegistrar],
    }),
  );
  const pluginRepoFactory = await deploy(session, {
    name: "PluginRepoFactory",
    abi: pluginRepoFactoryAbi,
    bytecode: pluginRepoFactoryBytecode,
    args: [pluginRepoRegistry],
  });
  const pluginSetupProcessor = await deploy(session, {
    name: "PluginSetupProcessor",
    abi: pluginSetupProcessorAbi,
    bytecode: pluginSetupProcessorBytecode,
    args: [pluginRepoRegistry],
  });
  const daoFactory = await deploy(session, {
    name: "DAOFactory",
    abi: daoFactoryAbi,
    bytecode: daoFactoryBytecode,
    args: [daoRegistry, pluginSetupProcessor],
  });

  await applyPermissions(session, managementDao, [
    {
      operation: GRANT,
      where: daoSubdomainRegistrar,
      who: daoRegistry,
      permission: "REGISTER_ENS_SUBDOMAIN_PERMISSION",
    },
    {
      operation: GRANT,
      where: pluginSubdomainRegistrar,
      who: pluginRepoRegistry,
      permission: "REGISTER_ENS_SUBDOMAIN_PERMISSION",
    },
    {
      operation: GRANT,
      where: daoSubdomainRegistrar,
      who: managementDao,
      permission: "UPGRADE_REGISTRAR_PERMISSION",
    },
    {
      operation: GRANT,
      where: pluginSubdomainRegistrar,
      who: managementDao,
      permission: "UPGRADE_REGISTRAR_PERMISSION",
    },
    { operation: GRANT, where: daoRegistry, who: daoFactory, permission: "REGISTER_DAO_PERMISSION" },
    { operation: GRANT, where: daoRegistry, who: managementDao, permission: "UPGRADE_REGISTRY_PERMISSION" },
    {
      operation: GRANT,
      where: pluginRepoRegistry,
      who: pluginRepoFactory,
      permission: "REGISTER_PLUGIN_REPO_PERMISSION",
    },
    {
      operation: GRANT,
      where: pluginRepoRegistry,
      who: managementDao,
      permission: "UPGRADE_REGISTRY_PERMISSION",
    },
    // Only long enough to register the management DAO itself.
    { operation: GRANT, where: daoRegistry, who: deployer, permission: "REGISTER_DAO_PERMISSION" },
  ]);
  await send(session, {
    address: daoRegistry,
    abi: daoRegistryAbi,
    functionName: "register",
    args: [managementDao, deployer, MANAGEMENT_DAO_SUBDOMAIN],
  });
  await applyPermissions(session, managementDao, [
    { operation: REVOKE, where: daoRegistry, who: deployer, permission: "REGISTER_DAO_PERMISSION" },
    { operation: REVOKE, where: managementDao, who: deployer, permission: "EXECUTE_PERMISSION" },
  ]);

  return {
    ensRegistry,
    publicResolver,
    daoSubdomainRegistrar,
    pluginSubdomainRegistrar,
    managementDao,
    daoRegistry,
    pluginRepoRegistry,
    pluginRepoFactory,
    pluginSetupProcessor,
    daoFactory,
  };
}

/** Publishes TokenVoting v1.0.0 as release 1 build 1 of a plugin repo at token-voting.plugin.dao.eth. */
export async function publishTokenVoting(
  session: ChainSession,
  framework: Pick<OsxAddresses, "pluginRepoFactory" | "pluginRepoRegistry">,
): Promise<{ tokenVotingSetup: Address; tokenVotingRepo: Address }> {
  const maintainer = requireWallet(session, "publishing TokenVoting").account.address;
  const tokenVotingSetup = await installOversizedContract(
    session,
    tokenVotingSetupBytecode,
    "TokenVotingSetup-v1.0.0",
  );
  const receipt = await send(session, {
    address: framework.pluginRepoFactory,
    abi: pluginRepoFactoryAbi,
    functionName: "createPluginRepoWithFirstVersion",
    args: [
      TOKEN_VOTING_SUBDOMAIN,
      tokenVotingSetup,
      maintainer,
      stringToHex(dataUri({ name: "TokenVoting", description: "Aragon OSx token voting, v1.0.0 line" })),
      stringToHex(dataUri({ ui: {}, change: "v1.0.0", pluginSetup: { prepareInstallation: {} } })),
    ],
  });
  const [registered] = parseEventLogs({
    abi: pluginRepoRegistryAbi,
    eventName: "PluginRepoRegistered",
    logs: receipt.logs,
  });
  if (!registered)
    throw new Error("publishing TokenVoting: PluginRepoRegistry emitted no PluginRepoRegistered");
  return { tokenVotingSetup, tokenVotingRepo: registered.args.pluginRepo };
}
