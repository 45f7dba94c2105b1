import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  type ContractFunctionArgs,
  type ContractFunctionName,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  decodeErrorResult,
  defineChain,
  encodeFunctionData,
  getAddress,
  type Hex,
  http,
  nonceManager,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  checkpointRegistryAbi,
  clusterRegistryAbi,
  daoTrainTokenAbi,
  datasetRegistryAbi,
  runRegistryAbi,
} from "../contracts/abi/index.ts";
import { type Deployment, readDeployment } from "./deployment.ts";
import { ChainMismatchError, ContractRevertError, WalletRequiredError } from "./errors.ts";
import { daoPermissionsAbi, tokenVotingAbi } from "./osxAbi.ts";
import { revertHint } from "./revertHints.ts";
import { defaultTransactionPolicy, submit, type TransactionPolicy } from "./transactions.ts";

export type Wallet = WalletClient<Transport, Chain, Account>;

/** A connection to one chain: reads always, writes when a key was given. */
export interface ChainSession {
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  wallet: Wallet | undefined;
  /** How `send` gets a transaction mined: replacement timing and the caller's journal. */
  transactions: TransactionPolicy;
}

/** A session bound to a daotrain deployment: what every governance call takes. */
export interface Governance extends ChainSession {
  deployment: Deployment;
  /** The private key behind `wallet`, for the Aragon SDK's ethers signer. */
  privateKey: Hex | undefined;
}

// Local chains mine on demand; polling at viem's default 4 s would make every step slow.
const POLLING_MS = 100;

export interface SessionOptions {
  transactions?: Partial<TransactionPolicy>;
}

export async function openChain(
  rpcUrl: string,
  privateKey?: Hex,
  options: SessionOptions = {},
): Promise<ChainSession> {
  const probe = createPublicClient({ transport: http(rpcUrl) });
  const chainId = await probe.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: POLLING_MS });
  const wallet = privateKey
    ? createWalletClient({
        chain,
        transport,
        // viem's nonceManager is one per process, keyed by address and chain: every session of
        // this key (every activity of a worker) takes nonces from the same counter.
        account: privateKeyToAccount(privateKey, { nonceManager }),
        pollingInterval: POLLING_MS,
      })
    : undefined;
  const transactions = { ...defaultTransactionPolicy, pollingMs: POLLING_MS, ...options.transactions };
  return { rpcUrl, chain, publicClient, wallet, transactions };
}

export interface ConnectOptions {
  deployment?: Deployment;
  /** Read when `deployment` is not given; see deploymentPath(). */
  deploymentFile?: string;
  /** Defaults to the URL recorded in the deployment. */
  rpcUrl?: string;
  privateKey?: Hex;
  transactions?: Partial<TransactionPolicy>;
}

export async function connect(options: ConnectOptions = {}): Promise<Governance> {
  const deployment = options.deployment ?? (await readDeployment(options.deploymentFile));
  const rpcUrl = options.rpcUrl ?? deployment.rpcUrl;
  const session = await openChain(rpcUrl, options.privateKey, { transactions: options.transactions });
  if (session.chain.id !== deployment.chainId) {
    throw new ChainMismatchError(rpcUrl, deployment.chainId, session.chain.id);
  }
  return { ...session, deployment, privateKey: options.privateKey };
}

export function requireWallet(session: ChainSession, action: string): Wallet {
  if (!session.wallet) throw new WalletRequiredError(action);
  return session.wallet;
}

export interface WriteRequest<
  abi extends Abi,
  name extends ContractFunctionName<abi, "nonpayable" | "payable">,
> {
  address: Address;
  abi: abi;
  functionName: name;
  args: ContractFunctionArgs<abi, "nonpayable" | "payable", name>;
}

/**
 * Sends one contract call and waits for its receipt. The call is simulated first, so a revert
 * surfaces as ContractRevertError naming the contract's error, with what to do about it, before
 * a nonce is taken; a transaction slow to be mined is replaced, never sent twice
 * (`transactions.ts`).
 */
export async function send<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">>(
  session: ChainSession,
  request: WriteRequest<abi, name>,
): Promise<TransactionReceipt> {
  const wallet = requireWallet(session, request.functionName);
  // The generic request does not narrow to viem's overloads; the fields are the same.
  const simulate = () =>
    session.publicClient.simulateContract({ ...request, account: wallet.account } as never);
  try {
    await simulate();
    const data = encodeFunctionData(request as never);
    const receipt = await submit(
      session.publicClient,
      wallet,
      { to: request.address, data },
      request.functionName,
      session.transactions,
    );
    if (receipt.status === "success") return receipt;
    // Reverted on-chain after a simulation that passed: the state moved in between. Simulating
    // again names the error the state now raises.
    await simulate();
    throw new Error(`${request.functionName}: transaction ${receipt.transactionHash} reverted`);
  } catch (error) {
    throw decodeRevert(request.functionName, error);
  }
}

export async function deploy(
  session: ChainSession,
  contract: { abi: Abi; bytecode: Hex; args?: readonly unknown[]; name: string },
): Promise<Address> {
  const wallet = requireWallet(session, `deploying ${contract.name}`);
  try {
    const hash = await wallet.deployContract({
      abi: contract.abi,
      bytecode: contract.bytecode,
      args: contract.args ?? [],
    } as never);
    const receipt = await confirm(session, hash, `deploying ${contract.name}`);
    if (!receipt.contractAddress)
      throw new Error(`deploying ${contract.name}: the receipt has no contract address`);
    return getAddress(receipt.contractAddress);
  } catch (error) {
    throw decodeRevert(`deploying ${contract.name}`, error);
  }
}

async function confirm(session: ChainSession, hash: Hex, action: string): Promise<TransactionReceipt> {
  const receipt = await session.publicClient.waitForTransactionReceipt({ hash, pollingInterval: POLLING_MS });
  if (receipt.status !== "success") throw new Error(`${action}: transaction ${hash} reverted`);
  return receipt;
}

/**
 * Every named error daotrain's and OSx's contracts can revert with: for errors that reach us
 * without an ABI (the Aragon SDK's ethers calls) or from a contract the call went through
 * (CheckpointRegistry.commitRound reverts with RunRegistry's errors when a credit is refused).
 */
export const knownErrors = [
  ...datasetRegistryAbi,
  ...clusterRegistryAbi,
  ...runRegistryAbi,
  ...checkpointRegistryAbi,
  ...daoTrainTokenAbi,
  ...tokenVotingAbi,
  ...daoPermissionsAbi,
].filter((item) => item.type === "error");

/**
 * The name of every error the daotrain and OSx contracts declare. A call that reverts with one
 * of them reverts again with the same arguments on the same state: callers treat it as final.
 */
export const contractErrorNames: ReadonlySet<string> = new Set(knownErrors.map((item) => item.name));

/** The revert data inside an ethers v5 error: a hex `data` string somewhere in its `error` chain. */
function ethersRevertData(error: unknown): Hex | undefined {
  for (
    let e = error as { data?: unknown; error?: unknown } | undefined;
    e && typeof e === "object";
    e = e.error as never
  ) {
    if (typeof e.data === "string" && /^0x[0-9a-fA-F]{8}/.test(e.data)) return e.data as Hex;
  }
  return undefined;
}

/** Turns a revert into ContractRevertError when a known ABI names the error; else passes it on. */
export function decodeRevert(action: string, error: unknown): unknown {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (!(reverted instanceof ContractFunctionRevertedError)) return error;
    if (reverted.data?.errorName) {
      const { errorName, args = [] } = reverted.data;
      return new ContractRevertError(action, errorName, args, revertHint(errorName));
    }
    return reverted.raw ? decodeKnown(action, reverted.raw, error) : error;
  }
  const data = ethersRevertData(error);
  return data ? decodeKnown(action, data, error) : error;
}

function decodeKnown(action: string, data: Hex, error: unknown): unknown {
  try {
    const { errorName, args = [] } = decodeErrorResult({ abi: knownErrors, data });
    return new ContractRevertError(action, errorName, args, revertHint(errorName));
  } catch {
    return error;
  }
}
