import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import ts from "typescript";

export interface ImportGraph {
  /** Absolute paths of the repository files reached. */
  files: Set<string>;
  /** Packages reached by bare specifiers, by package name (`zod`, `@aws-sdk/client-s3`). */
  packages: Set<string>;
}

/** Every module the entry points reach through static and literal dynamic imports: repo files and packages. */
export function importGraph(repo: string, entries: readonly string[]): ImportGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = entries.map((entry) => resolve(repo, entry));
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith(".")) pending.push(resolve(dirname(file), fileName));
      else if (!fileName.startsWith("node:")) packages.add(packageOf(fileName));
    }
  }
  return { files, packages };
}

function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}
