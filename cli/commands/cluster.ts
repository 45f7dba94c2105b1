import { readFile, writeFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { getCluster } from "../../governance/reads.ts";
import { registerCluster } from "../../governance/writes.ts";
import { type AccessCheck, checkAccess, onboardContributor } from "../../k8s/contributor/onboard.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { CliError } from "../program.ts";
import { type ChainOptions, connectFrom, printJson, withChainOptions } from "./governanceOptions.ts";

function count(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError("must be a whole number");
  return Number(value);
}

function port(value: string, previous: number[] = []): number[] {
  const n = count(value);
  if (n < 1 || n > 65_535) throw new InvalidArgumentError("must be a TCP port (1-65535)");
  return [...previous, n];
}

async function readKubeconfig(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read kubeconfig ${path}: ${(error as Error).message}`);
  }
}

function printChecks(checks: AccessCheck[]): void {
  for (const check of checks) {
    const mark = check.ok ? "ok  " : "FAIL";
    process.stdout.write(`${mark} ${check.expected.padEnd(9)} ${check.description} (is ${check.actual})\n`);
  }
}

export function register(program: Command): void {
  const cluster = program
    .command("cluster")
    .description("contribute a Kubernetes cluster's GPUs to daotrain");

  cluster
    .command("onboard")
    .description(
      "apply the contributor bundle (namespace, ServiceAccount, Role, GPU quota, limits, network policy) " +
        "with server-side apply, and write the orchestrator's ServiceAccount kubeconfig",
    )
    .requiredOption("--kubeconfig <path>", "an admin kubeconfig of the cluster you contribute")
    .requiredOption("--gpus <n>", "GPUs you donate (ResourceQuota on requests.nvidia.com/gpu)", count)
    .option("--namespace <name>", "namespace for daotrain's Jobs", "daotrain")
    .option("--egress-port <port>", "TCP port trainers may reach outside (repeatable; default 443)", port)
    .option(
      "--share-node-capacity",
      "let the orchestrator read Nodes cluster-wide (names, labels, allocatable GPUs) to place rounds only where GPUs are free; without it, nothing cluster-wide is granted and the quota alone bounds placement",
    )
    .option(
      "--priority-class <name>",
      "your PriorityClass for daotrain's pods (keep it below your own workloads'); default: daotrain-low, which the bundle creates below every default priority and unable to preempt",
    )
    .option("--out <path>", "where to write the ServiceAccount kubeconfig", "daotrain-sa.kubeconfig")
    .option("--json", "print the result as JSON")
    .action(
      async (options: {
        kubeconfig: string;
        gpus: number;
        namespace: string;
        egressPort?: number[];
        shareNodeCapacity?: boolean;
        priorityClass?: string;
        out: string;
        json?: boolean;
      }) => {
        const admin = await readKubeconfig(options.kubeconfig);
        const result = await onboardContributor(admin, {
          namespace: options.namespace,
          gpus: options.gpus,
          ...(options.egressPort ? { egressPorts: options.egressPort } : {}),
          shareNodeCapacity: options.shareNodeCapacity ?? false,
          ...(options.priorityClass ? { priorityClass: options.priorityClass } : {}),
        });
        await writeFile(options.out, result.serviceAccountKubeconfig, { mode: 0o600 });
        if (options.json) {
          const { serviceAccountKubeconfig: _secret, ...visible } = result;
          process.stdout.write(`${JSON.stringify({ ...visible, kubeconfig: options.out })}\n`);
        } else {
          process.stdout.write(
            `applied ${result.applied.length} objects in namespace ${result.namespace} (${result.gpus} GPUs donated)\n` +
              `wrote the orchestrator's kubeconfig to ${options.out}; check it with: daotrain cluster check --kubeconfig ${options.out}\n`,
          );
        }
      },
    );

  withChainOptions(
    cluster
      .command("register")
      .description(
        "register your cluster on-chain (its id is keccak256 of --name, the name the orchestrator's clusters file uses); the DAO then admits it by vote",
      )
      .requiredOption("--name <name>", "the cluster's name, a DNS label (e.g. acme-h100)")
      .requiredOption("--gpus <n>", "GPUs you donate", count)
      .requiredOption("--gpu-product <label>", "the nvidia.com/gpu.product label of its nodes")
      .option("--metadata <text>", "how to reach you or the cluster (public)", ""),
    { write: true },
  ).action(
    async (options: ChainOptions & { name: string; gpus: number; gpuProduct: string; metadata: string }) => {
      const governance = await connectFrom(options);
      const clusterId = clusterIdOf(options.name);
      const sent = await registerCluster(governance, {
        clusterId,
        gpuCapacity: options.gpus,
        gpuProduct: options.gpuProduct,
        metadata: options.metadata,
      });
      const view = await getCluster(governance, clusterId);
      if (options.json) return printJson({ clusterId, txHash: sent.txHash, cluster: view });
      process.stdout.write(
        `registered cluster ${options.name} (${clusterId}) in tx ${sent.txHash}; status ${view.status}\n` +
          `ask the DAO to admit it: daotrain propose cluster admit ${clusterId}\n`,
      );
    },
  );

  cluster
    .command("check")
    .description("prove with the apiserver's authorizer what a ServiceAccount kubeconfig can and cannot do")
    .requiredOption("--kubeconfig <path>", "the kubeconfig written by `daotrain cluster onboard`")
    .option("--namespace <name>", "the contributor namespace (default: the kubeconfig context's)")
    .option("--json", "print the checks as JSON")
    .action(async (options: { kubeconfig: string; namespace?: string; json?: boolean }) => {
      const checks = await checkAccess(await readKubeconfig(options.kubeconfig), options.namespace);
      if (options.json) process.stdout.write(`${JSON.stringify(checks)}\n`);
      else printChecks(checks);
      const wrong = checks.filter((c) => !c.ok);
      if (wrong.length > 0)
        throw new CliError(
          `${wrong.length} permission(s) differ from the contributor bundle: ${wrong.map((c) => c.description).join("; ")}; re-run daotrain cluster onboard`,
        );
    });
}
