// Makes solcjs answer the two questions forge asks a native solc binary, so forge can compile
// offline with the exact compiler the build uses (npm `solc`), with no download of its own.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

type Solc = { version(): string; compile(input: string, callbacks: { import(p: string): unknown }): string };
const solc = createRequire(import.meta.url)("solc") as Solc;

/** forge parses `Version: x.y.z+commit.h.<platform>`; solcjs reports an Emscripten platform. */
function printVersion(): void {
  const version = solc.version().replace(/\.Emscripten\.clang$/, ".Linux.g++");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`);
}

/** Reads an import the standard-JSON input did not inline, from the allowed roots forge passed. */
function importReader(roots: string[]): (p: string) => { contents: string } | { error: string } {
  return (p) => {
    for (const root of roots) {
      try {
        return { contents: readFileSync(path.resolve(root, p), "utf8") };
      } catch {}
    }
    return { error: `File not found in ${roots.join(", ")}: ${p}` };
  };
}

function pathArgs(argv: string[], flag: string): string[] {
  const found: string[] = [];
  argv.forEach((arg, i) => {
    const value = argv[i + 1];
    if (arg === flag && value !== undefined) found.push(...value.split(","));
    else if (arg.startsWith(`${flag}=`)) found.push(...arg.slice(flag.length + 1).split(","));
  });
  return found;
}

function compileStandardJson(argv: string[]): void {
  const input = readFileSync(0, "utf8");
  const roots = [
    process.cwd(),
    ...pathArgs(argv, "--base-path"),
    ...pathArgs(argv, "--include-path"),
    ...pathArgs(argv, "--allow-paths"),
  ];
  const output = solc.compile(input, { import: importReader(roots) });
  // solcjs may print notices starting with `>>>`; forge needs the bare JSON.
  const json = output
    .split("\n")
    .filter((line) => !line.startsWith(">>>"))
    .join("\n");
  process.stdout.write(json);
}

const argv = process.argv.slice(2);
if (argv.includes("--version")) printVersion();
else if (argv.includes("--standard-json")) compileStandardJson(argv);
else {
  process.stderr.write("solc-wrapper supports only --version and --standard-json\n");
  process.exit(2);
}
