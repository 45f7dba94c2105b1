import { Command } from "commander";
import { register as registerCluster } from "./commands/cluster.ts";
import { register as registerConsole } from "./commands/console.ts";
import { register as registerDao } from "./commands/dao.ts";
import { register as registerDataset } from "./commands/dataset.ts";
import { register as registerDemo } from "./commands/demo.ts";
import { register as registerDownload } from "./commands/download.ts";
import { register as registerKey } from "./commands/key.ts";
import { register as registerPropose } from "./commands/propose.ts";
import { register as registerRewards } from "./commands/rewards.ts";
import { register as registerRun } from "./commands/run.ts";
import { register as registerSample } from "./commands/sample.ts";
import { register as registerStore } from "./commands/store.ts";
import { register as registerVerify } from "./commands/verify.ts";
import { register as registerVote } from "./commands/vote.ts";
import { register as registerWorker } from "./commands/worker.ts";
import { withUsageErrors } from "./program.ts";

// Each verb group lives in cli/commands/<group>.ts and exports `register(program)`.
const groups: Array<(program: Command) => void> = [
  registerDemo,
  registerCluster,
  registerDownload,
  registerVerify,
  registerSample,
  registerDao,
  registerKey,
  registerDataset,
  registerPropose,
  registerRewards,
  registerVote,
  registerRun,
  registerStore,
  registerWorker,
  registerConsole,
];

/** The whole `daotrain` command tree, ready to parse (tests walk it to check every verb). */
export function buildProgram(): Command {
  const program = new Command("daotrain")
    .description(
      "DAO-governed, open model training: governance, contributed GPU clusters, verified checkpoints",
    )
    .version("0.1.0")
    .showSuggestionAfterError(true);
  for (const register of groups) register(program);
  return withUsageErrors(program);
}
