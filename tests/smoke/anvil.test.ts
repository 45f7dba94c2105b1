import { createPublicClient, createWalletClient, http, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Anvil, startAnvil } from "../harness/anvil.ts";

let anvil: Anvil;
beforeAll(async () => {
  anvil = await startAnvil({ accounts: 2 });
});
afterAll(async () => {
  await anvil?.stop();
});

test("viem reads eth_chainId from a real anvil and mines a transfer", async () => {
  const transport = http(anvil.rpcUrl);
  const publicClient = createPublicClient({ chain: foundry, transport });
  expect(await publicClient.getChainId()).toBe(anvil.chainId);

  const [from, to] = anvil.accounts;
  const wallet = createWalletClient({
    account: privateKeyToAccount(from!.privateKey),
    chain: foundry,
    transport,
  });
  const before = await publicClient.getBalance({ address: to!.address });
  const hash = await wallet.sendTransaction({ to: to!.address, value: parseEther("1.5") });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });

  expect(receipt.status).toBe("success");
  expect(receipt.blockNumber).toBeGreaterThan(0n);
  expect(await publicClient.getBalance({ address: to!.address })).toBe(before + parseEther("1.5"));
});
