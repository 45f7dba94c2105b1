import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { type RequestOptions, request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import type { TestCluster } from "./kubernetes.ts";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

const run = promisify(execFile);

/** The API groups whose webhooks the manager serves with only the batch/job integration on. */
const SERVED_GROUPS = new Set(["kueue.x-k8s.io", "batch"]);
/** Where Kueue reads its metrics server's certificate when it does not manage certificates itself. */
const METRICS_CERT_DIR = "/etc/kueue/metrics/certs";

export interface RunningKueue {
  stop(): Promise<void>;
}

interface WebhookConfiguration extends KubernetesObject {
  webhooks?: {
    name: string;
    clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
    rules?: { apiGroups?: string[] }[];
  }[];
}

/**
 * Server-side applies a CRD file as it is written: the client's typed serializer would drop the
 * schema's `x-kubernetes-*` extensions, which Kueue's int-or-string quantities need.
 */
async function applyCrdFile(cluster: TestCluster, text: string): Promise<void> {
  const name = (parseAllDocuments(text)[0]?.toJS() as KubernetesObject).metadata?.name ?? "";
  const url = new URL(
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=daotrain-test&force=true`,
    cluster.server,
  );
  const options: RequestOptions = {
    method: "PATCH",
    headers: { "content-type": "application/apply-patch+yaml" },
  };
  await cluster.kubeConfig.applyToHTTPSOptions(options);
  await new Promise<void>((resolve, reject) => {
    const req = request(url, options, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () =>
        (res.statusCode ?? 0) < 300
          ? resolve()
          : reject(new Error(`applying CRD ${name}: ${res.statusCode} ${body}`)),
      );
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** A CA and a serving certificate for 127.0.0.1, where the apiserver calls the webhooks. */
async function servingCertificate(dir: string): Promise<{ ca: string }> {
  const openssl = await requireTool("openssl");
  const p = (file: string) => join(dir, file);
  await run(
    openssl,
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      p("ca.key"),
      "-out",
      p("ca.crt"),
      "-subj",
      "/CN=kueue-test-ca",
      "-days",
      "2",
    ]),
  );
  await run(
    openssl,
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      p("tls.key"),
      "-out",
      p("tls.csr"),
      "-subj",
      "/CN=127.0.0.1",
    ]),
  );
  await writeFile(p("san.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  await run(
    openssl,
    ["x509", "-req", "-in", p("tls.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key")].concat([
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      p("san.ext"),
      "-out",
      p("tls.crt"),
    ]),
  );
  return { ca: (await readFile(p("ca.crt"))).toString("base64") };
}

/** Kueue's webhook configurations, each webhook called at 127.0.0.1 instead of its Service. */
function localWebhooks(manifest: string, port: number, caBundle: string): WebhookConfiguration[] {
  return parseAllDocuments(manifest)
    .map((doc) => doc.toJS() as WebhookConfiguration | null)
    .filter((object): object is WebhookConfiguration => object !== null)
    .map((object) => ({
      ...object,
      metadata: { name: `kueue-${object.metadata?.name}` },
      webhooks: (object.webhooks ?? [])
        .filter((hook) => hook.rules?.every((rule) => rule.apiGroups?.every((g) => SERVED_GROUPS.has(g))))
        .map((hook) => ({
          ...hook,
          clientConfig: {
            url: `https://127.0.0.1:${port}${hook.clientConfig.service?.path ?? ""}`,
            caBundle,
          },
        })),
    }));
}

/**
 * A real Kueue (its manager built from the pinned module by the bootstrap) on a test cluster: its
 * CRDs installed, its Job and API webhooks registered at the manager's local port, the batch/job
 * integration on, as a contributor who runs Kueue has it.
 */
export async function startKueue(cluster: TestCluster): Promise<RunningKueue> {
  const binary = await requireTool("kueue");
  const manifests = join(dirname(await realpath(binary)), "manifests");
  const dir = await mkdtemp(join(tmpdir(), "daotrain-kueue-"));
  const objects = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  const apply = (object: KubernetesObject) =>
    objects.patch(object, undefined, undefined, "daotrain-test", true, PatchStrategy.ServerSideApply);
  let manager: ManagedProcess | undefined;
  try {
    for (const file of (await readdir(manifests)).filter((f) => f.startsWith("kueue.x-k8s.io_")))
      await applyCrdFile(cluster, await readFile(join(manifests, file), "utf8"));
    const crds = cluster.kubeConfig.makeApiClient(ApiextensionsV1Api);
    await waitUntilReady(
      "Kueue's CRDs established",
      async () => {
        const list = await crds.listCustomResourceDefinition();
        const kueue = list.items.filter((crd) => crd.spec.group === "kueue.x-k8s.io");
        return kueue.length > 0 &&
          kueue.every((crd) =>
            crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"),
          )
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await cluster.kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: "kueue-system" } } });

    const certDir = join(dir, "certs");
    await mkdir(certDir);
    const { ca } = await servingCertificate(certDir);
    // Kueue reads this fixed path when it does not manage certificates: a throwaway pair will do.
    await mkdir(METRICS_CERT_DIR, { recursive: true });
    for (const file of ["tls.crt", "tls.key"])
      await writeFile(join(METRICS_CERT_DIR, file), await readFile(join(certDir, file)), {
        flag: "wx",
      }).catch(() => undefined);
    const [webhookPort, healthPort] = await Promise.all([freePort(), freePort()]);
    const config = join(dir, "config.yaml");
    await writeFile(
      config,
      JSON.stringify({
        apiVersion: "config.kueue.x-k8s.io/v1beta2",
        kind: "Configuration",
        namespace: "kueue-system",
        health: { healthProbeBindAddress: `127.0.0.1:${healthPort}` },
        metrics: { bindAddress: "0" },
        webhook: { port: webhookPort, host: "127.0.0.1", certDir },
        leaderElection: { leaderElect: false },
        internalCertManagement: { enable: false },
        integrations: { frameworks: ["batch/job"] },
      }),
    );
    manager = startProcess({
      name: "kueue",
      command: binary,
      args: [
        `--config=${config}`,
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--visibility-server-port=${await freePort()}`,
        "--feature-gates=VisibilityOnDemand=false",
      ],
      logFile: join(dir, "kueue.log"),
    });
    const started = manager;
    await waitUntilReady(
      "kueue manager ready",
      async () => ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 500, process: started },
    );
    for (const webhooks of localWebhooks(
      await readFile(join(manifests, "manifests.yaml"), "utf8"),
      webhookPort,
      ca,
    ))
      await apply(webhooks);
  } catch (error) {
    await manager?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const running = manager;
  return {
    async stop() {
      await running.stop(3_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
