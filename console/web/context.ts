import { createContext, useContext } from "react";
import type { ConsoleConfig } from "../api.ts";

export const ConfigContext = createContext<ConsoleConfig | undefined>(undefined);

/** The console's configuration (chain, contracts, token), loaded once before the app renders. */
export function useConsoleConfig(): ConsoleConfig {
  const config = useContext(ConfigContext);
  if (!config) throw new Error("useConsoleConfig outside ConfigContext");
  return config;
}
