import { execFile } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Node,
  type V1Taint,
} from "@kubernetes/client-node";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver (TLS, client certificates, the
 * RBAC authorizer, service-account tokens, default admission incl. ResourceQuota),
 * kube-controller-manager, kube-scheduler, and KWOK simulating GPU nodes. Everything listens on free
 * loopback ports and lives in a temp dir, so several clusters run side by side.
 */
export interface SimulatedNode {
  name: string;
  /** `nvidia.com/gpu` capacity and allocatable. */
  gpus: number;
  /** Value of the `nvidia.com/gpu.product` label, e.g. "NVIDIA-A100-SXM4-80GB". */
  gpuProduct: string;
  cpu?: string;
  memory?: string;
  taints?: V1Taint[];
  labels?: Record<string, string>;
}

export interface StartClusterOptions {
  name: string;
  nodes: SimulatedNode[];
  /**
   * Leave Job pods' phases to `localstack/podRunner.ts` (which runs their commands here)
   * instead of letting KWOK mark them Running and Succeeded at once.
   */
  podRunner?: boolean;
  /**
   * KWOK runs Job pods this long before it marks them Succeeded (a simulated trainer's time);
   * by default they complete as soon as they run. Ignored with `podRunner`.
   */
  podRunSeconds?: number;
  /** More kube-apiserver flags, after the harness's own (a later flag wins). */
  apiserverFlags?: readonly string[];
}

export interface TestCluster {
  name: string;
  /** https://127.0.0.1:<port> of kube-apiserver. */
  server: string;
  /** A cluster-admin kubeconfig (client certificate in group system:masters). */
  kubeconfig: string;
  kubeconfigPath: string;
  /** The cluster CA's certificate (it signed the admin's, which the apiserver also serves with). */
  caCertPath: string;
  /** A KubeConfig loaded from `kubeconfig`, for the test's own API calls. */
  kubeConfig: KubeConfig;
  podRunner: boolean;
  workDir: string;
  addNode(node: SimulatedNode): Promise<void>;
  removeNode(name: string): Promise<void>;
  /** Stops and starts kube-apiserver (same port, same data): every open connection is cut. */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

/** The label KWOK reads on nodes it simulates and the GPU product label real GPU nodes carry. */
export const GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";
/** Job pods carry this label; in pod-runner clusters KWOK leaves their status alone. */
export const JOB_POD_LABEL = "batch.kubernetes.io/job-name";
/** KWOK's `Logs` resource, which says where a simulated container's log file is. */
export const KWOK_LOGS = { group: "kwok.x-k8s.io", version: "v1alpha1", plural: "logs" } as const;

const run = promisify(execFile);

interface Pki {
  caCert: string;
  caKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

/**
 * One CA; one certificate that serves the apiserver on 127.0.0.1 and authenticates the admin
 * (group system:masters); one service-account signing key. EC keys: generating them is instant.
 */
async function generatePki(dir: string): Promise<Pki> {
  const openssl = await requireTool("openssl");
  const p = (file: string) => join(dir, file);
  const ec = (file: string) =>
    run(openssl, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(file)]);
  await Promise.all([ec("ca.key"), ec("admin.key"), ec("sa.key")]);
  await run(openssl, ["pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
  await run(openssl, [
    "req",
    "-x509",
    "-new",
    "-key",
    p("ca.key"),
    "-subj",
    "/CN=daotrain-test-ca",
    "-days",
    "2",
    "-out",
    p("ca.crt"),
  ]);
  await run(openssl, [
    "req",
    "-new",
    "-key",
    p("admin.key"),
    "-subj",
    "/O=system:masters/CN=daotrain-admin",
    "-out",
    p("admin.csr"),
  ]);
  await writeFile(
    p("admin.ext"),
    [
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc",
      "extendedKeyUsage=serverAuth,clientAuth",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "",
    ].join("\n"),
  );
  await run(openssl, [
    "x509",
    "-req",
    "-in",
    p("admin.csr"),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    p("admin.ext"),
    "-out",
    p("admin.crt"),
  ]);
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

async function adminKubeconfig(name: string, server: string, pki: Pki): Promise<string> {
  const b64 = async (file: string) => (await readFile(file)).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${name}`,
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${await b64(pki.caCert)}`,
    "users:",
    `- name: ${name}-admin`,
    "  user:",
    `    client-certificate-data: ${await b64(pki.adminCert)}`,
    `    client-key-data: ${await b64(pki.adminKey)}`,
    "contexts:",
    `- name: ${name}`,
    "  context:",
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    `current-context: ${name}`,
    "",
  ].join("\n");
}

/** GET on the apiserver with the admin certificate; resolves with the status code and body. */
async function adminGet(server: string, path: string, pki: Pki): Promise<{ status: number; body: string }> {
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert),
    readFile(pki.adminCert),
    readFile(pki.adminKey),
  ]);
  return await new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { ca, cert, key, timeout: 2_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * KWOK serves `kubectl logs` from files named by its `Logs` objects. The pod runner creates one per
 * pod; this is the smallest CRD that lets it (KWOK reads the fields it knows).
 */
async function installKwokLogsCrd(kubeConfig: KubeConfig): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const name = `${KWOK_LOGS.plural}.${KWOK_LOGS.group}`;
  await api.createCustomResourceDefinition({
    body: {
      metadata: { name },
      spec: {
        group: KWOK_LOGS.group,
        scope: "Namespaced",
        names: { kind: "Logs", listKind: "LogsList", plural: KWOK_LOGS.plural, singular: KWOK_LOGS.plural },
        versions: [
          {
            name: KWOK_LOGS.version,
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", x_kubernetes_preserve_unknown_fields: true } },
          },
        ],
      },
    },
  });
  await waitUntilReady(
    "KWOK Logs CRD established",
    async () => {
      const crd = await api.readCustomResourceDefinition({ name });
      return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")
        ? true
        : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

function nodeObject(node: SimulatedNode): V1Node {
  const resources = {
    cpu: node.cpu ?? "16",
    memory: node.memory ?? "64Gi",
    "ephemeral-storage": "1Ti",
    pods: "110",
    "nvidia.com/gpu": String(node.gpus),
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: node.name,
      labels: {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
        [GPU_PRODUCT_LABEL]: node.gpuProduct,
        "nvidia.com/gpu.count": String(node.gpus),
        ...node.labels,
      },
      annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
    },
    spec: { taints: node.taints ?? [] },
    status: { allocatable: resources, capacity: resources },
  };
}

/**
 * KWOK's pod lifecycle with a trainer's time in it: ready once scheduled, Succeeded `seconds`
 * after that if a Job owns the pod, deleted when asked. (KWOK's own stages, but for the delay.)
 */
function podStages(seconds: number): string {
  const stage = (name: string, selector: string[], next: string[], delayMs = 0) =>
    [
      "apiVersion: kwok.x-k8s.io/v1alpha1",
      "kind: Stage",
      `metadata: { name: ${name} }`,
      "spec:",
      "  resourceRef: { apiGroup: v1, kind: Pod }",
      "  selector:",
      "    matchExpressions:",
      ...selector.map((line) => `    - ${line}`),
      ...(delayMs > 0 ? [`  delay: { durationMilliseconds: ${delayMs} }`] : []),
      "  next:",
      ...next.map((line) => `    ${line}`),
    ].join("\n");
  const notDeleted = "{ key: '.metadata.deletionTimestamp', operator: DoesNotExist }";
  const statusTemplate = (lines: string[]) => ["statusTemplate: |", ...lines.map((line) => `  ${line}`)];
  return [
    stage(
      "pod-ready",
      [notDeleted, "{ key: '.status.podIP', operator: DoesNotExist }"],
      statusTemplate([
        "{{ $now := Now }}",
        "conditions:",
        "- { type: Initialized, status: 'True', lastTransitionTime: {{ $now | Quote }} }",
        "- { type: Ready, status: 'True', lastTransitionTime: {{ $now | Quote }} }",
        "- { type: ContainersReady, status: 'True', lastTransitionTime: {{ $now | Quote }} }",
        "containerStatuses:",
        "{{ range .spec.containers }}",
        "- name: {{ .name | Quote }}",
        "  image: {{ .image | Quote }}",
        "  ready: true",
        "  restartCount: 0",
        "  state: { running: { startedAt: {{ $now | Quote }} } }",
        "{{ end }}",
        "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}",
        'podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}',
        "phase: Running",
        "startTime: {{ $now | Quote }}",
      ]),
    ),
    stage(
      "pod-complete",
      [
        notDeleted,
        "{ key: '.status.phase', operator: In, values: [Running] }",
        "{ key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job] }",
      ],
      statusTemplate([
        "{{ $now := Now }}",
        "{{ $root := . }}",
        "containerStatuses:",
        "{{ range $index, $item := .spec.containers }}",
        "{{ $running := index $root.status.containerStatuses $index }}",
        "- name: {{ $item.name | Quote }}",
        "  image: {{ $item.image | Quote }}",
        "  ready: false",
        "  restartCount: 0",
        "  state: { terminated: { exitCode: 0, reason: Completed, startedAt: {{ $running.state.running.startedAt | Quote }}, finishedAt: {{ $now | Quote }} } }",
        "{{ end }}",
        "phase: Succeeded",
      ]),
      seconds * 1000,
    ),
    stage(
      "pod-delete",
      ["{ key: '.metadata.deletionTimestamp', operator: Exists }"],
      ["finalizers: { empty: true }", "delete: true"],
    ),
  ].join("\n---\n");
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

const SHM = "/dev/shm";

/**
 * etcd's data in memory when the machine has /dev/shm: fsyncs on disk dominate start-up. Memory
 * is what such a directory costs (a control plane that ran 6,400 pods leaves ~1 GiB), so its name
 * carries the owning process's pid: a process killed before it could clean up (SIGKILL, out of
 * memory, a test runner's timeout) leaves one whose owner is gone, which the next start removes.
 */
async function etcdDataDir(workDir: string): Promise<string> {
  if (!existsSync(SHM)) {
    const dir = join(workDir, "etcd");
    await mkdir(dir);
    return dir;
  }
  await removeOrphanedEtcdDirs();
  const dir = await mkdtemp(join(SHM, `daotrain-etcd-${process.pid}-`));
  etcdDirsInMemory.add(dir);
  return dir;
}

/** Removed when this process exits however it can (process.ts's signal handlers exit too). */
const etcdDirsInMemory = new Set<string>();
process.once("exit", () => {
  for (const dir of etcdDirsInMemory) rmSync(dir, { recursive: true, force: true });
});

async function removeOrphanedEtcdDirs(): Promise<void> {
  const orphaned = (await readdir(SHM)).filter((name) => {
    const owner = /^daotrain-etcd-(\d+)-/.exec(name)?.[1];
    return owner !== undefined && !isAlive(Number(owner));
  });
  await Promise.all(orphaned.map((name) => rm(join(SHM, name), { recursive: true, force: true })));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function startCluster(options: StartClusterOptions): Promise<TestCluster> {
  const [etcdBin, apiserverBin, kcmBin, schedulerBin, kwokBin] = await Promise.all([
    requireTool("etcd"),
    requireTool("kube-apiserver"),
    requireTool("kube-controller-manager"),
    requireTool("kube-scheduler"),
    requireTool("kwok"),
  ]);
  const workDir = await mkdtemp(join(tmpdir(), `daotrain-k8s-${options.name}-`));
  const etcdDir = await etcdDataDir(workDir);
  const processes: ManagedProcess[] = [];
  const log = (component: string) => join(workDir, `${component}.log`);
  const stopAll = async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop(3_000)));
    await rm(etcdDir, { recursive: true, force: true });
    etcdDirsInMemory.delete(etcdDir);
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    const pki = await generatePki(workDir);
    const [etcdPort, peerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = await adminKubeconfig(options.name, server, pki);
    const kubeconfigPath = join(workDir, "admin.kubeconfig");
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    processes.push(
      startProcess({
        name: `${options.name}/etcd`,
        command: etcdBin,
        args: [
          "--name=node0",
          `--data-dir=${etcdDir}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=node0=${peerUrl}`,
          "--auto-compaction-retention=1",
          "--quota-backend-bytes=2147483648",
          "--logger=zap",
          "--log-level=warn",
        ],
        logFile: log("etcd"),
      }),
    );

    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${workDir}`,
      `--tls-cert-file=${pki.adminCert}`,
      `--tls-private-key-file=${pki.adminKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--authorization-mode=RBAC",
      "--service-cluster-ip-range=10.96.0.0/16",
      // Lets `kubectl logs` reach the simulated kubelet (KWOK) with the admin identity.
      `--kubelet-client-certificate=${pki.adminCert}`,
      `--kubelet-client-key=${pki.adminKey}`,
      // A real kubelet (tests/harness/kubeletNode.ts) names itself, and no resolver knows the name.
      "--kubelet-preferred-address-types=InternalIP",
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      "--endpoint-reconciler-type=none",
      // Streaming lists need etcd's watch progress requests, which Debian's etcd 3.4 lacks; with
      // the feature on, the apiserver turns a client's watch from resourceVersion 0 (KWOK's) into
      // one and then refuses it, and KWOK fell back to relisting with backoff: node heartbeats
      // lapsed, nodes went NotReady for a minute at a time and pods waited for them.
      "--feature-gates=WatchList=false",
      ...(options.apiserverFlags ?? []),
    ];
    const startApiserver = () =>
      startProcess({
        name: `${options.name}/kube-apiserver`,
        command: apiserverBin,
        args: apiserverArgs,
        logFile: log("kube-apiserver"),
      });
    let apiserver = startApiserver();
    processes.push(apiserver);
    const waitForApiserver = (proc: ManagedProcess) =>
      waitUntilReady(
        `${options.name} kube-apiserver`,
        async () => ((await adminGet(server, "/readyz", pki)).status === 200 ? true : undefined),
        { timeoutMs: 90_000, intervalMs: 250, process: proc },
      );
    await waitForApiserver(apiserver);

    const common = [`--kubeconfig=${kubeconfigPath}`, "--kube-api-qps=500", "--kube-api-burst=1000"];
    const kwokPort = await freePort();
    const kwokArgs = [
      `--kubeconfig=${kubeconfigPath}`,
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      "--node-ip=127.0.0.1",
      `--node-port=${kwokPort}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      `--tls-cert-file=${pki.adminCert}`,
      `--tls-private-key-file=${pki.adminKey}`,
    ];
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeconfig);
    if (options.podRunner) {
      await installKwokLogsCrd(kubeConfig);
      kwokArgs.push(`--disregard-status-with-label-selector=${JOB_POD_LABEL}`, "--enable-crds=Logs");
    } else if (options.podRunSeconds) {
      const stages = join(workDir, "kwok-stages.yaml");
      await writeFile(stages, podStages(options.podRunSeconds));
      kwokArgs.push(`--config=${stages}`);
    }
    processes.push(
      startProcess({
        name: `${options.name}/kube-controller-manager`,
        command: kcmBin,
        args: [
          ...common,
          "--leader-elect=false",
          "--secure-port=0",
          `--service-account-private-key-file=${pki.saKey}`,
          `--root-ca-file=${pki.caCert}`,
          "--controllers=*",
          "--concurrent-job-syncs=10",
        ],
        logFile: log("kube-controller-manager"),
      }),
      startProcess({
        name: `${options.name}/kube-scheduler`,
        command: schedulerBin,
        args: [...common, "--leader-elect=false", "--secure-port=0"],
        logFile: log("kube-scheduler"),
      }),
      startProcess({
        name: `${options.name}/kwok`,
        command: kwokBin,
        args: kwokArgs,
        logFile: log("kwok"),
      }),
    );

    const core = kubeConfig.makeApiClient(CoreV1Api);

    const addNode = async (node: SimulatedNode) => {
      await core.createNode({ body: nodeObject(node) });
      await waitUntilReady(
        `${options.name} node ${node.name} Ready (KWOK)`,
        async () => (isReady(await core.readNode({ name: node.name })) ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    };
    await Promise.all(options.nodes.map(addNode));
    // Pods are refused until the service-account controller has made the namespace's default SA.
    await waitUntilReady(
      `${options.name} default ServiceAccount`,
      async () =>
        (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" }))
          ? true
          : undefined,
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    return {
      name: options.name,
      server,
      kubeconfig,
      kubeconfigPath,
      caCertPath: pki.caCert,
      kubeConfig,
      podRunner: options.podRunner ?? false,
      workDir,
      addNode,
      async removeNode(name) {
        await core.deleteNode({ name });
      },
      async restartApiserver() {
        await apiserver.stop(5_000);
        processes.splice(processes.indexOf(apiserver), 1);
        apiserver = startApiserver();
        processes.push(apiserver);
        await waitForApiserver(apiserver);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
