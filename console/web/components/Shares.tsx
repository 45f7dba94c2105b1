import { useConsoleConfig } from "../context.ts";
import { tokens } from "../format.ts";

/** A contributor's share of a run as table cells: verified GPU-seconds, earned, claimed, claimable. */
export function ShareCells({
  share,
}: {
  share: { gpuSeconds: number; earned: string; claimed: string; claimable: string };
}) {
  const { token } = useConsoleConfig();
  const amount = (units: string) => tokens(units, token.symbol, token.decimals);
  return (
    <>
      <td>{share.gpuSeconds}</td>
      <td>{amount(share.earned)}</td>
      <td>{amount(share.claimed)}</td>
      <td>{amount(share.claimable)}</td>
    </>
  );
}
