import { getAddress, type Hex, keccak256, toHex } from "viem";
import { LOCAL_VOTING } from "../../governance/deploy.ts";
import type { Deployment } from "../../governance/deployment.ts";
import { deployDao, type LocalDao } from "../../localstack/dao.ts";
import { type Anvil, startAnvil } from "../harness/anvil.ts";

export { MEMBER_POWER, TOKEN } from "../../localstack/dao.ts";

/** One anvil with the whole local DAO deployed once (localstack/dao.ts assigns the accounts). */
export interface DaoFixture extends LocalDao {
  anvil: Anvil;
  stop(): Promise<void>;
}

export async function startDaoFixture(): Promise<DaoFixture> {
  const anvil = await startAnvil({ accounts: 20 });
  try {
    return { ...(await deployDao(anvil)), anvil, stop: () => anvil.stop() };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** A stand-in for a spec hash or Merkle root, distinct per label. */
export const id = (label: string): Hex => keccak256(toHex(label));

/** The n-th stand-in address (0x…0001, 0x…0002, …). */
export const address = (n: number) => getAddress(`0x${n.toString(16).padStart(40, "0")}`);

/** A deployment with stand-in addresses, for unit tests of what proposals encode and decode. */
export const unitDeployment = {
  dao: {
    address: address(1),
    token: address(2),
    tokenVoting: address(3),
    ensName: "x.dao.eth",
    voting: LOCAL_VOTING,
  },
  contracts: {
    datasetRegistry: address(10),
    clusterRegistry: address(11),
    runRegistry: address(12),
    checkpointRegistry: address(13),
  },
  operator: address(20),
} as Deployment;
