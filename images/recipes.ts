import { execFile } from "node:child_process";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { importGraph } from "./importGraph.ts";
import { packageClosure } from "./packageClosure.ts";
import { addonLibraries, normalise, packageFiles, programWithLibraries, type RootfsEntry } from "./rootfs.ts";

const run = promisify(execFile);

/** An image this folder builds: its Containerfile and the root filesystem that file copies in. */
export interface ImageRecipe {
  name: string;
  /** Repository-relative path of the Containerfile. */
  containerfile: string;
  /** `scratch` is a folder the caller removes afterwards, for anything the recipe has to make. */
  rootfs(repo: string, scratch: string): Promise<RootfsEntry[]>;
}

/**
 * The programs of the trainer image, which pods run: the trainer (its entrypoint) and the
 * evaluator that scores another contributor's replica output (`node trainer/evaluate.ts`).
 */
export const TRAINER_PROGRAMS = ["trainer/main.ts", "trainer/evaluate.ts"];

/** Where the application lives in the Node images (the Containerfiles' WORKDIR). */
const APP_DIR = "/opt/daotrain";
/** The distroless "nonroot" identity the pods run as (k8s/roundJob.ts sets the same uid). */
const NONROOT = 65532;

/**
 * A Node program's image: Node and its libraries, a POSIX sh, and only what `entries` import, plus
 * `undeclared`: packages a dependency requires without declaring them (found where the host's
 * hoisted node_modules hides the omission and the image does not).
 */
async function nodeProgram(
  repo: string,
  entries: readonly string[],
  undeclared: readonly string[] = [],
): Promise<RootfsEntry[]> {
  const graph = importGraph(repo, entries);
  const packages = packageClosure(repo, [...graph.packages, ...undeclared]);
  const packageEntries = (
    await Promise.all(packages.map((path) => packageFiles(join(repo, path), join(APP_DIR, path))))
  ).flat();
  return normalise([
    { kind: "dir", path: "/tmp", mode: 0o1777 },
    {
      kind: "content",
      path: "/etc/passwd",
      content: `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`,
      mode: 0o644,
    },
    { kind: "content", path: "/etc/group", content: `root:x:0:\nnonroot:x:${NONROOT}:\n`, mode: 0o644 },
    ...(await programWithLibraries(process.execPath, "/usr/local/bin/node")),
    // The Job's prologue (k8s/roundJob.ts) is POSIX sh: the host's, with its libraries.
    ...(await programWithLibraries("/bin/sh", "/bin/sh")),
    { kind: "content", path: `${APP_DIR}/package.json`, content: '{ "type": "module" }\n', mode: 0o644 },
    ...[...graph.files].map(
      (source): RootfsEntry => ({
        kind: "file",
        path: join(APP_DIR, relative(repo, source)),
        source,
        mode: 0o644,
      }),
    ),
    ...packageEntries,
    ...(await addonLibraries(packageEntries)),
  ]);
}

/**
 * The sandbox ("pause") image containerd starts each pod with, compiled from the pinned kubernetes
 * module's own source, since no registry can be pulled from.
 */
async function pauseBinary(repo: string, scratch: string): Promise<RootfsEntry[]> {
  const { stdout } = await run("go", ["mod", "download", "-json", "k8s.io/kubernetes"], {
    cwd: join(repo, "bootstrap/kubernetes"),
  });
  const { Dir: moduleDir, Version: version } = JSON.parse(stdout) as { Dir: string; Version: string };
  const out = join(scratch, "pause");
  await run("gcc", [
    "-Os",
    "-Wall",
    "-Werror",
    "-static",
    `-DVERSION=${version}`,
    "-o",
    out,
    join(moduleDir, "build/pause/linux/pause.c"),
  ]);
  return [{ kind: "file", path: "/pause", source: out, mode: 0o755 }];
}

/**
 * The workers' workflow code as Temporal's bundler makes it at a worker's start: the worker's own
 * bundle options (its workflows and the failure converter that seals failure messages).
 */
async function workflowBundle(): Promise<string> {
  const [{ bundleWorkflowCode }, { workflowBundleOptions }] = await Promise.all([
    import("@temporalio/worker"),
    import("../workers/main.ts"),
  ]);
  const silent = () => {};
  const logger = { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: silent };
  return (await bundleWorkflowCode({ ...workflowBundleOptions, logger })).code;
}

export const RECIPES: Record<string, ImageRecipe> = {
  trainer: {
    name: "trainer",
    containerfile: "images/trainer/Containerfile",
    // tfjs' Node bundle requires `long`, which only tfjs-core declares (nested there).
    rootfs: (repo) => nodeProgram(repo, TRAINER_PROGRAMS, ["long"]),
  },
  worker: {
    name: "worker",
    containerfile: "images/worker/Containerfile",
    // The workflows are bundled here (DAOTRAIN_WORKFLOW_BUNDLE): a pod starts without webpack or
    // swc, whose native addon will not load from a read-only root. The trainer is for the local
    // executor.
    rootfs: async (repo) => [
      ...(await nodeProgram(repo, ["workers/main.ts", "trainer/main.ts"], ["long"])),
      { kind: "generated", path: `${APP_DIR}/workflows.bundle.js`, mode: 0o644, generate: workflowBundle },
    ],
  },
  pause: { name: "pause", containerfile: "images/pause/Containerfile", rootfs: pauseBinary },
};
