import type { Client } from "@temporalio/client";
import type { Governance } from "../../governance/chain.ts";
import type { OpenStoreOptions } from "../../storage/index.ts";

/** What the console's views read from: the chain, the orchestrator's Temporal, the stores. */
export interface ConsoleSources {
  /** Read-only: the console holds no key. */
  governance: Governance;
  /** A client with the payload codec, to read run status; undefined when none is configured. */
  temporal: Client | undefined;
  /** For the run specs and dataset manifests proposals point at. */
  storeOptions: OpenStoreOptions;
}
