import { type Hex, keccak256, toHex } from "viem";
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
