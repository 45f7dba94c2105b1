#!/usr/bin/env node
import { buildProgram } from "./daotrain.ts";
import { runProgram } from "./program.ts";

process.exitCode = await runProgram(buildProgram(), process.argv);
