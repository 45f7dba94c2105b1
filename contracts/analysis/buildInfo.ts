// Writes the build's compilation (compile.ts: the npm solcjs, the build's settings and source
// names) as a Hardhat-format build-info, the form Slither reads through crytic-compile:
//   node contracts/analysis/buildInfo.ts <dir>     (writes <dir>/build-info/daotrain.json)
// Forge's own build-info lists the libraries twice (forge keys them by absolute path, solc by the
// remapped one), which Slither cannot resolve; this one names every source once.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runSolc, solcInput, solcVersion } from "../compile.ts";

/** Every file's AST (libraries' too: Slither resolves inheritance through them) and its contracts' code. */
const ANALYSIS_OUTPUT = {
  "*": {
    "*": ["abi", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers", "userdoc", "devdoc"],
    "": ["ast"],
  },
};

export function writeBuildInfo(dir: string): string {
  const input = solcInput(() => ANALYSIS_OUTPUT);
  const output = runSolc(input);
  const longVersion = solcVersion().replace(/\.Emscripten\.clang$/, "");
  const buildInfo = {
    _format: "hh-sol-build-info-1",
    id: "daotrain",
    solcVersion: longVersion.replace(/\+.*$/, ""),
    solcLongVersion: longVersion,
    input,
    output,
  };
  const file = path.join(dir, "build-info", "daotrain.json");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(buildInfo));
  return file;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write("usage: node contracts/analysis/buildInfo.ts <dir>\n");
    process.exit(2);
  }
  console.log(writeBuildInfo(path.resolve(dir)));
}
