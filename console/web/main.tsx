import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { WagmiProvider } from "wagmi";
import { API_PATHS, ConsoleConfig } from "../api.ts";
import { App } from "./App.tsx";
import { getJson } from "./api.ts";
import { ConfigContext } from "./context.ts";
import { explainError } from "./errors.ts";
import { wagmiConfig } from "./wallet.ts";
import "./styles.css";

const container = document.getElementById("root");
if (!container) throw new Error("index.html has no #root");
const root = createRoot(container);

getJson(API_PATHS.config, ConsoleConfig).then(
  (config) => {
    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1 } } });
    root.render(
      <StrictMode>
        <ConfigContext.Provider value={config}>
          <WagmiProvider config={wagmiConfig(config)}>
            <QueryClientProvider client={queryClient}>
              <App />
            </QueryClientProvider>
          </WagmiProvider>
        </ConfigContext.Provider>
      </StrictMode>,
    );
  },
  (error: unknown) =>
    root.render(
      <main>
        <h1>daotrain console</h1>
        <p role="alert">{explainError(error)}</p>
      </main>,
    ),
);
