import { Link, Route, Router, Switch } from "wouter";
import { useHashLocation } from "wouter/use-hash-location";
import { NetworkBanner, WalletPanel } from "./components/Wallet.tsx";
import { useConsoleConfig } from "./context.ts";
import { CheckpointsPage } from "./pages/Checkpoints.tsx";
import { ContributorsPage } from "./pages/Contributors.tsx";
import { DatasetsPage } from "./pages/Datasets.tsx";
import { ProposalPage } from "./pages/Proposal.tsx";
import { ProposalsPage } from "./pages/Proposals.tsx";
import { RunPage } from "./pages/Run.tsx";
import { RunsPage } from "./pages/Runs.tsx";

const PAGES = [
  ["/", "Proposals"],
  ["/runs", "Runs"],
  ["/checkpoints", "Checkpoints"],
  ["/contributors", "Contributors"],
  ["/datasets", "Datasets"],
] as const;

export function App() {
  const config = useConsoleConfig();
  return (
    <Router hook={useHashLocation}>
      <header className="top">
        <div className="brand">
          <span className="logo">daotrain</span>
          <span className="dao" title={config.dao.address}>
            {config.dao.ensName} · chain {config.chain.id}
            {config.chain.local ? " (local)" : ""}
          </span>
        </div>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map(([path, label]) => (
              <li key={path}>
                <Link href={path} className={(active) => (active ? "active" : "")}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <WalletPanel />
      </header>
      <NetworkBanner />
      <main>
        <Switch>
          <Route path="/" component={ProposalsPage} />
          <Route path="/proposals/:id">{(params) => <ProposalPage id={Number(params.id)} />}</Route>
          <Route path="/runs" component={RunsPage} />
          <Route path="/runs/:runId">{(params) => <RunPage runId={params.runId} />}</Route>
          <Route path="/checkpoints" component={CheckpointsPage} />
          <Route path="/contributors" component={ContributorsPage} />
          <Route path="/datasets" component={DatasetsPage} />
          <Route>
            <h1>Not found</h1>
            <p>
              This page does not exist. <Link href="/">Back to the proposals</Link>.
            </p>
          </Route>
        </Switch>
      </main>
    </Router>
  );
}
