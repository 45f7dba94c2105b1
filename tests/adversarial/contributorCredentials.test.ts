import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AuthenticationV1Api,
  CoreV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Secret,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { LEGACY_TOKEN_SECRET, SERVICE_ACCOUNT } from "../../k8s/contributor/bundle.ts";
import { parseContributorKubeconfig, toKubeConfig } from "../../k8s/kubeconfig.ts";
import { MANAGED_BY_LABEL } from "../../k8s/roundJob.ts";
import { daotrain } from "../cli/inProcess.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";

// Long-lived credentials (issue 12.10). The orchestrator's kubeconfig is what a thief of the
// worker's disk, or a careless operator, would hold: it must expire, be revocable at once, read no
// Secret, and write only the objects daotrain makes, never the contributor's own.

const NAMESPACE = "daotrain";
let cluster: TestCluster;
let scratch: string;
let admin: CoreV1Api;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "daotrain-credentials-"));
  cluster = await startCluster({
    name: "contrib",
    nodes: [{ name: "gpu-1", gpus: 2, gpuProduct: "NVIDIA-TEST" }],
  });
  admin = cluster.kubeConfig.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await cluster?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The user the apiserver authenticates a kubeconfig as, or the HTTP status it refuses it with. */
async function whoAmI(config: KubeConfig): Promise<string | number> {
  try {
    const review = await config.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    return review.status?.userInfo?.username ?? "?";
  } catch (error) {
    return (error as { code: number }).code;
  }
}

/**
 * Waits until the apiserver refuses a revoked kubeconfig (its token cache remembers a good token
 * for up to 10 s) and returns how long that took.
 */
async function refusedWithin(config: KubeConfig, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  while ((await whoAmI(config)) !== 401) {
    if (Date.now() - start > timeoutMs) throw new Error(`still authenticated after ${timeoutMs} ms`);
    await sleep(500);
  }
  return Date.now() - start;
}

const orchestrator = `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`;
const saConfig = async (path: string) =>
  toKubeConfig(parseContributorKubeconfig(await readFile(path, "utf8")));
const jwtClaims = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString());

/** The status code of a call that must fail, and the apiserver's message. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    const { code, body } = error as { code: number; body?: unknown };
    return { code, message: typeof body === "string" ? body : JSON.stringify(body) };
  }
  throw new Error("the call succeeded");
}

describe("the orchestrator's credentials on a contributor's cluster", () => {
  test("onboarding kills an earlier bundle's never-expiring token, and writes a bound token that expires when it says, with the CA file's content inline", async () => {
    // What earlier bundles left: the account and its long-lived token Secret.
    await admin.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    await admin.createNamespacedServiceAccount({
      namespace: NAMESPACE,
      body: { metadata: { name: SERVICE_ACCOUNT } },
    });
    await admin.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: {
          name: LEGACY_TOKEN_SECRET,
          annotations: { "kubernetes.io/service-account.name": SERVICE_ACCOUNT },
        },
        type: "kubernetes.io/service-account-token",
      },
    });
    let legacyToken: string | undefined;
    while (!legacyToken) {
      const data = (await admin.readNamespacedSecret({ name: LEGACY_TOKEN_SECRET, namespace: NAMESPACE }))
        .data;
      legacyToken = data?.token ? Buffer.from(data.token, "base64").toString() : undefined;
      await sleep(200);
    }
    const legacy = toKubeConfig({
      ...parseContributorKubeconfig(cluster.kubeconfig),
      userName: "legacy",
      credential: { token: legacyToken },
    });
    expect(await whoAmI(legacy)).toBe(orchestrator);
    expect(jwtClaims(legacyToken).exp).toBeUndefined();

    // The contributor's admin kubeconfig names its CA by file, as kubeadm's and others' do.
    const adminWithCaFile = parseYaml(cluster.kubeconfig);
    delete adminWithCaFile.clusters[0].cluster["certificate-authority-data"];
    adminWithCaFile.clusters[0].cluster["certificate-authority"] = join(cluster.workDir, "ca.crt");
    const adminPath = join(scratch, "admin-ca-file.yaml");
    await writeFile(adminPath, toYaml(adminWithCaFile));
    const out = join(scratch, "sa.yaml");
    const before = Date.now();
    const onboarded = await daotrain(
      ...[
        "cluster",
        "onboard",
        "--kubeconfig",
        adminPath,
        "--gpus",
        "2",
        "--token-hours",
        "2",
        "--out",
        out,
        "--json",
      ],
    );
    expect(onboarded.code, onboarded.stderr).toBe(0);
    const { tokenExpiresAt } = JSON.parse(onboarded.stdout) as { tokenExpiresAt: string };
    expect(Math.abs(Date.parse(tokenExpiresAt) - (before + 2 * 3600_000))).toBeLessThan(120_000);

    const written = parseYaml(await readFile(out, "utf8"));
    expect(written.clusters[0].cluster).toEqual({
      server: cluster.server,
      "certificate-authority-data": (await readFile(join(cluster.workDir, "ca.crt"))).toString("base64"),
    });
    const token: string = written.users[0].user.token;
    expect(jwtClaims(token).exp * 1000).toBe(Date.parse(tokenExpiresAt));
    expect(await whoAmI(await saConfig(out))).toBe(orchestrator);

    // The long-lived token is gone, and with it what it let anyone do.
    expect(await refusedWithin(legacy)).toBeLessThan(15_000);
    const secrets = await admin.listNamespacedSecret({ namespace: NAMESPACE });
    expect(secrets.items.filter((s) => s.type === "kubernetes.io/service-account-token")).toEqual([]);
  });

  test("a stolen orchestrator kubeconfig reads no Secret, writes no ConfigMap, and may write only daotrain's own Opaque Secrets, never the contributor's", async () => {
    await admin.createNamespacedSecret({
      namespace: NAMESPACE,
      body: { metadata: { name: "contributor-own" }, stringData: { password: "hunter2" } },
    });
    const sa = await saConfig(join(scratch, "sa.yaml"));
    const core = sa.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(sa);
    const applySecret = (secret: V1Secret) =>
      objects.patch(
        {
          apiVersion: "v1",
          kind: "Secret",
          ...secret,
          metadata: { namespace: NAMESPACE, ...secret.metadata },
        },
        undefined,
        undefined,
        "thief",
        true,
        PatchStrategy.ServerSideApply,
      );
    const ours = { [MANAGED_BY_LABEL]: "daotrain" };

    expect(
      (await refusal(core.readNamespacedSecret({ name: "contributor-own", namespace: NAMESPACE }))).code,
    ).toBe(403);
    expect((await refusal(core.listNamespacedSecret({ namespace: NAMESPACE }))).code).toBe(403);
    const relabel = await refusal(
      applySecret({ metadata: { name: "contributor-own", labels: ours }, stringData: { password: "mine" } }),
    );
    expect(relabel.message).toContain("may only change or delete the objects it created");
    const removal = await refusal(
      core.deleteNamespacedSecret({ name: "contributor-own", namespace: NAMESPACE }),
    );
    expect(removal.message).toContain("may only change or delete the objects it created");
    const unlabelled = await refusal(
      applySecret({ metadata: { name: "unlabelled" }, stringData: { a: "b" } }),
    );
    expect(unlabelled.message).toContain(
      "may only write objects labelled app.kubernetes.io/managed-by=daotrain",
    );
    const tokenSecret = await refusal(
      applySecret({
        metadata: {
          name: "mint",
          labels: ours,
          annotations: { "kubernetes.io/service-account.name": SERVICE_ACCOUNT },
        },
        type: "kubernetes.io/service-account-token",
      }),
    );
    expect(tokenSecret.message).toContain("may only write Opaque Secrets");
    const configMap = await refusal(
      core.createNamespacedConfigMap({
        namespace: NAMESPACE,
        body: { metadata: { name: "x", labels: ours } },
      }),
    );
    expect(configMap.code).toBe(403);

    // What daotrain itself does still works: its own labelled Opaque Secret, written and deleted.
    await applySecret({
      metadata: { name: "round-store", labels: ours },
      stringData: { AWS_ACCESS_KEY_ID: "k" },
    });
    await core.deleteNamespacedSecret({ name: "round-store", namespace: NAMESPACE });
    const own = await admin.readNamespacedSecret({ name: "contributor-own", namespace: NAMESPACE });
    expect(Buffer.from(own.data?.password ?? "", "base64").toString()).toBe("hunter2");
  });

  test("daotrain cluster token renews the token, and --rotate revokes every token issued before (within the apiserver's 10 s token cache)", async () => {
    const first = join(scratch, "sa.yaml");
    const renewed = join(scratch, "sa-renewed.yaml");
    const rotated = join(scratch, "sa-rotated.yaml");
    const renew = await daotrain(
      "cluster",
      "token",
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--out",
      renewed,
    );
    expect(renew.code, renew.stderr).toBe(0);
    expect(renew.stdout).toMatch(/its token expires at \d{4}-\d\d-\d\dT/);
    expect(await whoAmI(await saConfig(renewed))).toBe(orchestrator);
    expect(await whoAmI(await saConfig(first))).toBe(orchestrator);

    const rotate = await daotrain(
      "cluster",
      "token",
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--rotate",
      "--out",
      rotated,
    );
    expect(rotate.code, rotate.stderr).toBe(0);
    const revokedIn = await refusedWithin(await saConfig(first));
    expect(revokedIn).toBeLessThan(15_000);
    expect(await refusedWithin(await saConfig(renewed))).toBeLessThan(15_000);
    expect(await whoAmI(await saConfig(rotated))).toBe(orchestrator);
    process.stdout.write(
      `token rotation: earlier tokens refused ${(revokedIn / 1000).toFixed(1)} s after --rotate\n`,
    );
  });

  test("onboarding refuses an admin kubeconfig that skips TLS verification rather than pass that on", async () => {
    const insecure = parseYaml(cluster.kubeconfig);
    delete insecure.clusters[0].cluster["certificate-authority-data"];
    insecure.clusters[0].cluster["insecure-skip-tls-verify"] = true;
    const path = join(scratch, "admin-insecure.yaml");
    await writeFile(path, toYaml(insecure));
    const onboard = await daotrain(
      "cluster",
      "onboard",
      "--kubeconfig",
      path,
      "--gpus",
      "2",
      "--out",
      join(scratch, "x.yaml"),
    );
    expect(onboard.code).toBe(1);
    expect(onboard.stderr).toContain("skips TLS verification (insecure-skip-tls-verify)");
  });
});
