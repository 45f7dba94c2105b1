import { useId, useState } from "react";
import { useAccount, useConnect, useConnectors, useDisconnect, useSwitchChain } from "wagmi";
import { useConsoleConfig } from "../context.ts";
import { explainError } from "../errors.ts";
import { short } from "../format.ts";
import { DEV_WALLET_PREFIX } from "../wallet.ts";

/** Connect any injected wallet, or on a local chain a labelled dev-wallet account; disconnect. */
export function WalletPanel() {
  const config = useConsoleConfig();
  const account = useAccount();
  const connectors = useConnectors();
  const { connect, error, isPending } = useConnect();
  const { disconnect } = useDisconnect();
  const [choice, setChoice] = useState("");
  const selectId = useId();

  if (account.isConnected && account.address) {
    const devAccount = config.devAccounts.find((a) => a.address === account.address);
    return (
      <section className="wallet" aria-label="Wallet">
        <p>
          Connected: <span title={account.address}>{short(account.address)}</span>
          {account.connector?.id.startsWith(DEV_WALLET_PREFIX) ? (
            <span className="badge dev">dev wallet{devAccount ? ` · ${devAccount.label}` : ""}</span>
          ) : (
            <span className="badge">{account.connector?.name}</span>
          )}
        </p>
        <button type="button" onClick={() => disconnect()}>
          Disconnect
        </button>
      </section>
    );
  }

  const browserWallets = connectors.filter((c) => !c.id.startsWith(DEV_WALLET_PREFIX));
  const devWallets = connectors.filter((c) => c.id.startsWith(DEV_WALLET_PREFIX));
  const selected = connectors.find((c) => c.uid === choice) ?? browserWallets[0];
  return (
    <section className="wallet" aria-label="Wallet">
      <label htmlFor={selectId}>Wallet</label>
      <select id={selectId} value={selected?.uid ?? ""} onChange={(event) => setChoice(event.target.value)}>
        <optgroup label="Browser wallets">
          {browserWallets.map((c) => (
            <option key={c.uid} value={c.uid}>
              {c.name === "Injected" ? "Browser wallet (injected)" : c.name}
            </option>
          ))}
        </optgroup>
        {devWallets.length > 0 ? (
          <optgroup label="Dev wallet: this local chain's accounts, signed by the node (no real funds)">
            {devWallets.map((c) => (
              <option key={c.uid} value={c.uid}>
                {c.name}
              </option>
            ))}
          </optgroup>
        ) : null}
      </select>
      <button
        type="button"
        disabled={!selected || isPending}
        onClick={() => selected && connect({ connector: selected })}
      >
        {isPending ? "Connecting…" : "Connect"}
      </button>
      {error ? (
        <p role="alert" className="error">
          {explainError(error)}
        </p>
      ) : null}
    </section>
  );
}

/** Says so, with a way out, when the wallet is on another chain than the DAO. */
export function NetworkBanner() {
  const config = useConsoleConfig();
  const { isConnected, chainId } = useAccount();
  const { switchChain, error, isPending } = useSwitchChain();
  if (!isConnected || chainId === undefined || chainId === config.chain.id) return null;
  return (
    <div role="alert" className="banner">
      <p>
        Your wallet is on chain {chainId}, but this DAO lives on chain {config.chain.id}. Switch networks to
        vote, execute or claim.
      </p>
      <button type="button" disabled={isPending} onClick={() => switchChain({ chainId: config.chain.id })}>
        Switch to chain {config.chain.id}
      </button>
      {error ? <p className="error">{explainError(error)}</p> : null}
    </div>
  );
}
