import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import ts from "typescript";

export interface ImportGraph {
  /** Absolute paths of the repository files reached. */
  files: Set<string>;
  /** Packages reached by bare specifiers, by package name (`zod`, `@aws-sdk/client-s3`). */
  packages: Set<string>;
}

/**
 * A module loaded by path, `siblingModule("./x", import.meta.url)` (spec/sourceModule.ts): a worker
 * thread's script, Temporal's failure converter and workflows. No import names them.
 */
const LOADED_BY_PATH = /siblingModule\(\s*"(\.{1,2}\/[^"]+)"/g;

/**
 * Every module the entry points reach through static and literal dynamic imports and the modules
 * they load by path: repo files and packages.
 */
export function importGraph(repo: string, entries: readonly string[]): ImportGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = entries.map((entry) => resolve(repo, entry));
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, "utf8");
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      if (fileName.startsWith(".")) pending.push(resolve(dirname(file), fileName));
      else if (!fileName.startsWith("node:")) packages.add(packageOf(fileName));
    }
    for (const [, relative] of source.matchAll(LOADED_BY_PATH))
      pending.push(resolve(dirname(file), `${relative}.ts`));
  }
  return { files, packages };
}

function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}
