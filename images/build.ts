// Builds one of this folder's images reproducibly, for bootstrap/bootstrap.sh:
//
//   node images/build.ts hash NAME        prints the sha256 of everything that goes into the image
//   node images/build.ts build NAME OUT   writes OUT/oci (an OCI layout, tag NAME) and OUT/digest
//
// Same inputs, same digest: the root filesystem is staged sorted with fixed modes, buildah stamps
// every file and the image config with time 0 and gzips the one layer the same way each time, so
// the manifest digest depends on the inputs alone; buildah's version is one of the hashed inputs.
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type ImageRecipe, RECIPES } from "./recipes.ts";
import { contentHash, type RootfsEntry } from "./rootfs.ts";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("..", import.meta.url));

function recipeNamed(name: string | undefined): ImageRecipe {
  const recipe = name ? RECIPES[name] : undefined;
  if (!recipe) throw new Error(`no image named "${name}"; one of ${Object.keys(RECIPES).join(", ")}`);
  return recipe;
}

async function inputsHash(recipe: ImageRecipe, entries: readonly RootfsEntry[]): Promise<string> {
  const [containerfile, buildah] = await Promise.all([
    readFile(join(repo, recipe.containerfile), "utf8"),
    run("buildah", ["--version"]).then((r) => r.stdout.trim()),
  ]);
  return await contentHash(entries, [containerfile, buildah]);
}

async function stage(entries: readonly RootfsEntry[], rootfs: string): Promise<void> {
  for (const entry of entries) {
    const target = join(rootfs, entry.path);
    if (entry.kind === "dir") await mkdir(target, { recursive: true });
    else {
      await mkdir(dirname(target), { recursive: true });
      if (entry.kind === "file") await copyFile(entry.source, target);
      else await writeFile(target, entry.kind === "content" ? entry.content : await entry.generate());
    }
    await chmod(target, entry.mode);
  }
}

async function build(recipe: ImageRecipe, work: string, out: string): Promise<void> {
  const entries = await recipe.rootfs(repo, work);
  const context = join(work, "context");
  await stage(entries, join(context, "rootfs"));
  await copyFile(join(repo, recipe.containerfile), join(context, "Containerfile"));
  // A private, throwaway store: nothing is left in (or read from) the machine's containers storage.
  const storage = [
    "--root",
    join(work, "storage"),
    "--runroot",
    join(work, "run"),
    "--storage-driver",
    "vfs",
  ];
  const tag = `localhost/daotrain/${recipe.name}:build`;
  await run(
    "buildah",
    [
      ...storage,
      "bud",
      "--quiet",
      "--timestamp",
      "0",
      "-f",
      join(context, "Containerfile"),
      "-t",
      tag,
      context,
    ],
    {
      maxBuffer: 16 << 20,
    },
  );
  await run("buildah", [...storage, "push", "--quiet", tag, `oci:${join(out, "oci")}:${recipe.name}`]);
  const index = JSON.parse(await readFile(join(out, "oci", "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const digest = index.manifests[0]?.digest;
  if (!digest) throw new Error(`buildah wrote no manifest for ${recipe.name}`);
  await writeFile(join(out, "digest"), `${digest}\n`);
  await writeFile(join(out, "inputs.sha256"), `${await inputsHash(recipe, entries)}\n`);
}

const [command, name, out] = process.argv.slice(2);
const work = await mkdtemp(join(tmpdir(), `daotrain-image-${name}-`));
try {
  const recipe = recipeNamed(name);
  if (command === "hash")
    process.stdout.write(`${await inputsHash(recipe, await recipe.rootfs(repo, work))}\n`);
  else if (command === "build" && out) await build(recipe, work, out);
  else throw new Error("usage: node images/build.ts hash NAME | build NAME OUT");
} catch (error) {
  process.stderr.write(`images/build.ts: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
