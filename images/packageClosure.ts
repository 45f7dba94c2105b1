import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optional?: boolean;
  dev?: boolean;
}

/**
 * The installed packages that `roots` need at run time, as package-lock.json paths
 * (`node_modules/zod`, `node_modules/a/node_modules/b`), found as Node resolves them: from the
 * requiring package's folder upwards. Optional and peer dependencies that are not installed here
 * (tfjs-node without its native library, say) are left out, as Node would fail to load them too.
 */
export function packageClosure(repo: string, roots: Iterable<string>): string[] {
  const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const installed = (path: string) => lock.packages[path] !== undefined && existsSync(join(repo, path));
  const resolveFrom = (from: string, name: string): string | undefined => {
    for (let base = from; ; base = parentPackage(base)) {
      const candidate = `${base ? `${base}/` : ""}node_modules/${name}`;
      if (installed(candidate)) return candidate;
      if (!base) return undefined;
    }
  };
  const needed = new Set<string>();
  const pending = [...roots].map((name) => {
    const path = resolveFrom("", name);
    if (!path) throw new Error(`package ${name} is imported but not installed; run npm ci`);
    return path;
  });
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (needed.has(path)) continue;
    needed.add(path);
    const entry = lock.packages[path] ?? {};
    const required = Object.keys(entry.dependencies ?? {});
    const ifThere = [
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}),
    ];
    for (const name of required) {
      const dependency = resolveFrom(path, name);
      if (!dependency) throw new Error(`${path} needs ${name}, which is not installed; run npm ci`);
      pending.push(dependency);
    }
    for (const name of ifThere) {
      const dependency = resolveFrom(path, name);
      if (dependency) pending.push(dependency);
    }
  }
  return [...needed].sort();
}

/** `node_modules/a/node_modules/b` → `node_modules/a`; a top-level package → the root (""). */
function parentPackage(path: string): string {
  const at = path.lastIndexOf("/node_modules/");
  return at < 0 ? "" : path.slice(0, at);
}
