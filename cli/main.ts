#!/usr/bin/env node
import { Command } from "commander";
import { register as registerCluster } from "./commands/cluster.ts";
import { register as registerDao } from "./commands/dao.ts";
import { register as registerDataset } from "./commands/dataset.ts";
import { register as registerDemo } from "./commands/demo.ts";
import { register as registerDownload } from "./commands/download.ts";
import { register as registerPropose } from "./commands/propose.ts";
import { register as registerRun } from "./commands/run.ts";
import { register as registerVote } from "./commands/vote.ts";
import { register as registerWorker } from "./commands/worker.ts";
import { runProgram, withUsageErrors } from "./program.ts";

// Each verb group lives in cli/commands/<group>.ts and exports `register(program)`.
const program = new Command("daotrain")
  .description(
    "DAO-governed, open model training: governance, contributed GPU clusters, verified checkpoints",
  )
  .version("0.1.0")
  .showSuggestionAfterError(true);

const groups: Array<(program: Command) => void> = [
  registerDemo,
  registerCluster,
  registerDownload,
  registerDao,
  registerDataset,
  registerPropose,
  registerVote,
  registerRun,
  registerWorker,
];
for (const register of groups) register(program);

process.exitCode = await runProgram(withUsageErrors(program), process.argv);
