import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { requireTool } from "./process.ts";

const run = promisify(execFile);

/**
 * `kustomize build DIR` by the real kustomize (the bootstrap builds it at a pinned release): the
 * objects `kubectl apply -k DIR` would send, in kustomize's order (namespaces first).
 */
export async function kustomizeBuild(dir: string): Promise<KubernetesObject[]> {
  const kustomize = await requireTool("kustomize");
  const { stdout } = await run(kustomize, ["build", dir]);
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => object !== null);
}

/** Server-side applies each object in turn, as `kubectl apply --server-side --force-conflicts`. */
export async function applyObjects(
  kubeConfig: KubeConfig,
  objects: readonly KubernetesObject[],
): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  for (const object of objects)
    await api.patch(object, undefined, undefined, "daotrain-test", true, PatchStrategy.ServerSideApply);
}
