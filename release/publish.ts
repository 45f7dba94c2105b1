import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRelease } from "./build.ts";
import type { ReleaseFacts } from "./card.ts";
import { RELEASE_MANIFEST_FILE, type ReleaseManifest } from "./manifest.ts";

/** What publishing needs of a store (storage/'s CheckpointStore has it). */
export interface PublicStore {
  putFile(key: string, path: string): Promise<unknown>;
  uriOf(key: string): string;
}

/**
 * Builds the release of a committed checkpoint and copies it to `store` under `prefix`, release.json
 * last so that a reader never sees a release with files missing. Deterministic: a retry publishes
 * the same bytes. Returns release.json's URI, which the operator records on-chain.
 */
export async function publishRelease(
  checkpointDir: string,
  facts: ReleaseFacts,
  store: PublicStore,
  prefix: string,
  onFile: (path: string) => void = () => {},
): Promise<{ uri: string; manifest: ReleaseManifest }> {
  const work = await mkdtemp(join(tmpdir(), "daotrain-release-"));
  try {
    const out = join(work, "release");
    const manifest = await buildRelease(checkpointDir, facts, out);
    for (const path of [...manifest.files.map((f) => f.path), RELEASE_MANIFEST_FILE]) {
      await store.putFile(`${prefix}/${path}`, join(out, path));
      onFile(path);
    }
    return { uri: store.uriOf(`${prefix}/${RELEASE_MANIFEST_FILE}`), manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
