import { bytesToHex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

/** anvil's well-known development mnemonic: funded accounts whose keys everyone can derive. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

export interface DevAccount {
  address: `0x${string}`;
  privateKey: `0x${string}`;
}

export interface Anvil {
  rpcUrl: string;
  port: number;
  chainId: number;
  accounts: DevAccount[];
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface StartAnvilOptions {
  accounts?: number;
  chainId?: number;
  /** Seconds between blocks; by default anvil mines one block per transaction. */
  blockTime?: number;
  /** Reuse a port (to restart a chain where clients expect it). */
  port?: number;
  /** Load and save chain state here, so a restarted anvil continues the same chain. */
  stateFile?: string;
}

export function devAccounts(count: number): DevAccount[] {
  return Array.from({ length: count }, (_, addressIndex) => {
    const account = mnemonicToAccount(DEV_MNEMONIC, { addressIndex });
    const key = account.getHdKey().privateKey;
    if (!key) throw new Error("devAccounts: HD key without private key");
    return { address: account.address, privateKey: bytesToHex(key) };
  });
}

/** Starts anvil on a free loopback port and waits until it answers eth_chainId. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  const binary = await requireTool("anvil");
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? 31337;
  const accounts = options.accounts ?? 10;
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--chain-id",
    String(chainId),
    "--accounts",
    String(accounts),
    "--mnemonic",
    DEV_MNEMONIC,
  ];
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));
  if (options.stateFile) args.push("--state", options.stateFile);
  const child = startProcess({ name: "anvil", command: binary, args });
  const rpcUrl = `http://127.0.0.1:${port}`;
  await waitUntilReady(
    "anvil",
    async () => {
      const response = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      return response.ok ? true : undefined;
    },
    { timeoutMs: 30_000, process: child },
  );
  return {
    rpcUrl,
    port,
    chainId,
    accounts: devAccounts(accounts),
    process: child,
    stop: () => child.stop(),
  };
}
