import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";

// What deploy/worker promises an operator, read from the files `kubectl apply -k` reads. That the
// worker runs from them in a cluster is not tested yet (issue 15.6; deploy/README.md).

const dir = fileURLToPath(new URL("../../deploy/worker/", import.meta.url));
const read = async (file: string) => parse(await readFile(join(dir, file), "utf8"));

describe("deploy/worker", () => {
  test("the kustomization names files that exist and generates the worker's non-secret settings", async () => {
    const kustomization = await read("kustomization.yaml");
    for (const resource of kustomization.resources) await expect(read(resource)).resolves.toBeTruthy();
    const literals: string[] = kustomization.configMapGenerator[0].literals;
    expect(literals.some((l) => /KEY|SECRET|TOKEN/.test(l.split("=")[0] ?? ""))).toBe(false);
  });

  test("the worker Deployment keeps its keys in Secrets, is probed and scraped on /metrics, asks for resources, and runs locked down", async () => {
    const deployment = (await read("deployment.yaml")) as V1Deployment;
    const pod = deployment.spec?.template;
    const worker = pod?.spec?.containers[0];
    expect(worker?.envFrom).toContainEqual({ secretRef: { name: "daotrain-worker-keys" } });
    expect(JSON.stringify(worker?.env ?? [])).not.toMatch(/KEY|SECRET/);
    for (const probe of [worker?.startupProbe, worker?.readinessProbe, worker?.livenessProbe])
      expect(probe?.httpGet).toEqual({ path: "/metrics", port: "metrics" });
    expect(pod?.metadata?.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9464",
    });
    expect(worker?.resources?.requests).toMatchObject({ cpu: "1", memory: "2Gi" });
    expect(pod?.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(worker?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod?.spec?.automountServiceAccountToken).toBe(false);
  });
});
