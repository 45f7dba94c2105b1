import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { access, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { CoreV1Api, type V1Node } from "@kubernetes/client-node";
import { GPU_PRODUCT_LABEL, type TestCluster } from "./kubernetes.ts";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";
import { builtImage, type ImageRegistry, startRegistry } from "./registry.ts";
import { relayTo } from "./relay.ts";

const run = promisify(execFile);

/** Where Debian's containernetworking-plugins put the CNI plugins (bootstrap links it as .daotrain/cni). */
const CNI_BIN_DIR = "/usr/lib/cni";
const GPU_RESOURCE = "nvidia.com/gpu";

export interface KubeletNodeOptions {
  cluster: TestCluster;
  name: string;
  registry: ImageRegistry;
  /** The pod sandbox image, by digest in `registry` (the bootstrap's `pause` image). */
  pauseImage: string;
  /** `nvidia.com/gpu` the node advertises (an extended resource: nothing here has a GPU). */
  gpus: number;
  gpuProduct: string;
}

/**
 * A real node of a test cluster: containerd (CRI, runc, overlayfs) and a kubelet built from the
 * control plane's own kubernetes module, joined to the cluster's apiserver. Pods get their own
 * network namespace on a bridge of their own (CNI bridge + host-local), so a pod reaches this
 * machine only through `expose`, as a pod on a contributor's cluster reaches the run store.
 */
export interface KubeletNode {
  name: string;
  /** The address of this machine on the pods' bridge (the bridge's gateway). */
  hostAddress: string;
  /** Makes 127.0.0.1:`port` reachable from pods at `hostAddress`:<returned port>. */
  expose(port: number): Promise<number>;
  /** containerd's, kubelet's and the pods' own logs live here while the node runs. */
  workDir: string;
  stop(): Promise<void>;
}

/**
 * Why this machine cannot run a kubelet node, or undefined when it can. Running containerd and a
 * kubelet needs root (mounts, network namespaces, cgroups) and the bootstrapped tools.
 */
export async function kubeletNodeUnsupported(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "a kubelet node needs root (containerd mounts, netns and cgroups)";
  for (const tool of ["kubelet", "containerd", "containerd-shim-runc-v2", "runc", "ip"]) {
    try {
      await requireTool(tool);
    } catch {
      return `${tool} is not on PATH: run bootstrap/bootstrap.sh`;
    }
  }
  const missing = await access(join(CNI_BIN_DIR, "bridge")).then(
    () => undefined,
    () => `no CNI bridge plugin in ${CNI_BIN_DIR}: run bootstrap/bootstrap.sh`,
  );
  return missing;
}

/** A /24 for the pod bridge that no route of this machine covers yet. */
async function freeSubnet(): Promise<{ prefix: string; gateway: string }> {
  const { stdout } = await run("ip", ["-4", "route"]);
  for (;;) {
    const prefix = `10.${200 + randomInt(50)}.${randomInt(256)}`;
    if (!stdout.includes(`${prefix}.`)) return { prefix, gateway: `${prefix}.1` };
  }
}

function containerdConfig(dir: string, socket: string, pauseImage: string): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[${cri}]
  sandbox_image = "${pauseImage}"
  # Without CAP_SYS_RESOURCE nothing may lower oom_score_adj; runc fails unless containerd keeps
  # the container's at or above its own.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[${cri}.cni]
  bin_dir = "${CNI_BIN_DIR}"
  conf_dir = "${dir}/net.d"
[${cri}.registry]
  config_path = "${dir}/certs.d"
`;
}

function cniConfig(name: string, bridge: string, prefix: string, dir: string): string {
  return JSON.stringify({
    cniVersion: "0.4.0",
    name,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: `${prefix}.0/24`, gateway: `${prefix}.1` }]],
          dataDir: join(dir, "ipam"),
        },
      },
    ],
  });
}

/**
 * What the issue measured this machine needs: cgroup v1 controllers with an empty v2 mount, no
 * systemd, no swap accounting; ports of its own so that several nodes run side by side.
 */
function kubeletConfig(options: {
  address: string;
  caCertPath: string;
  socket: string;
  port: number;
  healthzPort: number;
  podLogsDir: string;
}): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    failSwapOn: false,
    address: options.address,
    port: options.port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: options.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: options.caCertPath },
    },
    authorization: { mode: "AlwaysAllow" },
    containerRuntimeEndpoint: `unix://${options.socket}`,
    podLogsDir: options.podLogsDir,
    serializeImagePulls: false,
    // The disk is shared with other work: only a nearly full one is pressure here.
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionPressureTransitionPeriod: "5s",
    nodeStatusUpdateFrequency: "2s",
    syncFrequency: "10s",
    // How often emptyDir usage is measured: what an ephemeral-storage eviction waits for.
    volumeStatsAggPeriod: "5s",
  });
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Unmounts whatever containerd and the kubelet left mounted under `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point?.startsWith(`${dir}/`) ?? false)
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run("umount", ["-l", point]).catch(() => undefined);
}

/** The kubelet links each container's log into /var/log/containers (a fixed path); drop ours. */
async function removeContainerLogLinks(workDir: string): Promise<void> {
  const dir = "/var/log/containers";
  const links = await readdir(dir).catch(() => []);
  for (const link of links) {
    const target = await readlink(join(dir, link)).catch(() => "");
    if (target.startsWith(`${workDir}/`)) await rm(join(dir, link), { force: true });
  }
}

export async function startKubeletNode(options: KubeletNodeOptions): Promise<KubeletNode> {
  const unsupported = await kubeletNodeUnsupported();
  if (unsupported) throw new Error(unsupported);
  const [kubeletBin, containerdBin, ctr] = await Promise.all([
    requireTool("kubelet"),
    requireTool("containerd"),
    requireTool("ctr"),
  ]);
  const workDir = await mkdtemp(join(tmpdir(), `daotrain-node-${options.name}-`));
  const socket = join(workDir, "containerd.sock");
  const bridge = `dt${randomBytes(4).toString("hex")}`;
  const { prefix, gateway } = await freeSubnet();
  const processes: ManagedProcess[] = [];
  const relays: Server[] = [];
  const relayed = new Set<Socket>();
  const core = options.cluster.kubeConfig.makeApiClient(CoreV1Api);

  const ctrCall = (...args: string[]) =>
    run(ctr, ["--address", socket, "--namespace", "k8s.io", ...args]).then((r) => r.stdout);
  /** Kills every container containerd still runs, so that no shim outlives the node. */
  const killContainers = async () => {
    const ids = (await ctrCall("tasks", "ls", "--quiet").catch(() => "")).split("\n").filter(Boolean);
    await Promise.all(ids.map((id) => ctrCall("tasks", "kill", "--signal", "SIGKILL", id).catch(() => "")));
    await sleep(ids.length > 0 ? 500 : 0);
    await Promise.all(ids.map((id) => ctrCall("tasks", "delete", "--force", id).catch(() => "")));
    const containers = (await ctrCall("containers", "ls", "--quiet").catch(() => ""))
      .split("\n")
      .filter(Boolean);
    await Promise.all(containers.map((id) => ctrCall("containers", "delete", id).catch(() => "")));
  };
  const stop = async () => {
    // A server closes once its connections have ended: a pod's long-lived ones (a worker's gRPC
    // stream to Temporal, its watches) end only when cut.
    const closed = relays.splice(0).map((server) => new Promise((resolve) => server.close(resolve)));
    for (const connection of relayed) connection.destroy();
    await Promise.all(closed);
    const [containerd, kubelet] = processes.splice(0);
    await kubelet?.stop(5_000);
    if (containerd) {
      await killContainers();
      await containerd.stop(5_000);
    }
    await core.deleteNode({ name: options.name }).catch(() => undefined);
    await unmountUnder(workDir);
    await removeContainerLogLinks(workDir);
    await run("ip", ["link", "delete", bridge]).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    // The bridge exists before the first pod, so that `expose` can listen on its gateway at once.
    await run("ip", ["link", "add", "name", bridge, "type", "bridge"]);
    await run("ip", ["addr", "add", `${gateway}/24`, "dev", bridge]);
    await run("ip", ["link", "set", bridge, "up"]);

    const registryHosts = join(workDir, "containerd", "certs.d", options.registry.host);
    await mkdir(registryHosts, { recursive: true });
    await writeFile(
      join(registryHosts, "hosts.toml"),
      `server = "http://${options.registry.host}"\n[host."http://${options.registry.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    await mkdir(join(workDir, "containerd", "net.d"), { recursive: true });
    await writeFile(
      join(workDir, "containerd", "net.d", "10-daotrain.conflist"),
      cniConfig(`daotrain-${options.name}`, bridge, prefix, join(workDir, "cni")),
    );
    const containerdToml = join(workDir, "containerd.toml");
    await writeFile(
      containerdToml,
      containerdConfig(join(workDir, "containerd"), socket, options.pauseImage),
    );
    const containerd = startProcess({
      name: `${options.name}/containerd`,
      command: containerdBin,
      args: ["--config", containerdToml, "--log-level", "warn"],
      logFile: join(workDir, "containerd.log"),
    });
    processes.push(containerd);
    await waitUntilReady("containerd", async () => ((await ctrCall("version")) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      process: containerd,
    });

    const [port, healthzPort] = await Promise.all([freePort(), freePort()]);
    const configPath = join(workDir, "kubelet.json");
    await writeFile(
      configPath,
      kubeletConfig({
        address: gateway,
        caCertPath: options.cluster.caCertPath,
        socket,
        port,
        healthzPort,
        podLogsDir: join(workDir, "pod-logs"),
      }),
    );
    const kubelet = startProcess({
      name: `${options.name}/kubelet`,
      command: kubeletBin,
      args: [
        `--config=${configPath}`,
        `--kubeconfig=${options.cluster.kubeconfigPath}`,
        `--hostname-override=${options.name}`,
        // The kubelet refuses a loopback node IP; the bridge's gateway is this machine's too.
        `--node-ip=${gateway}`,
        `--root-dir=${join(workDir, "kubelet")}`,
        `--cert-dir=${join(workDir, "kubelet-pki")}`,
        `--node-labels=${GPU_PRODUCT_LABEL}=${options.gpuProduct}`,
        "--v=1",
      ],
      logFile: join(workDir, "kubelet.log"),
    });
    processes.push(kubelet);
    await waitUntilReady(
      `${options.name} node Ready (kubelet)`,
      async () => (isReady(await core.readNode({ name: options.name })) ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500, process: kubelet },
    );
    if (options.gpus > 0) {
      // An extended resource, advertised as the docs show (PATCH on status); the kubelet keeps it.
      await core.patchNodeStatus({
        name: options.name,
        body: [{ op: "add", path: "/status/capacity/nvidia.com~1gpu", value: String(options.gpus) }],
      });
      await waitUntilReady(
        `${options.name} advertises ${options.gpus} ${GPU_RESOURCE}`,
        async () =>
          (await core.readNode({ name: options.name })).status?.allocatable?.[GPU_RESOURCE] ===
          String(options.gpus)
            ? true
            : undefined,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    name: options.name,
    hostAddress: gateway,
    workDir,
    async expose(port) {
      const server = createServer(relayTo({ host: "127.0.0.1", port }, relayed));
      relays.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, gateway, () => resolve());
      });
      const address = server.address();
      if (!address || typeof address !== "object") throw new Error("the relay has no port");
      return address.port;
    },
    stop,
  };
}

/** A kubelet node with a registry of its own holding the bootstrap's images, as most tests want it. */
export interface ContainerNode {
  node: KubeletNode;
  registry: ImageRegistry;
  /** The trainer image by digest in `registry`. */
  trainerImage: string;
  stop(): Promise<void>;
}

export async function startContainerNode(
  options: Omit<KubeletNodeOptions, "registry" | "pauseImage">,
): Promise<ContainerNode> {
  const registry = await startRegistry();
  try {
    const [trainerImage, pauseImage] = await Promise.all([
      builtImage("trainer").then((image) => registry.push(image)),
      builtImage("pause").then((image) => registry.push(image)),
    ]);
    const node = await startKubeletNode({ ...options, registry, pauseImage });
    return {
      node,
      registry,
      trainerImage,
      async stop() {
        await node.stop();
        await registry.stop();
      },
    };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}
