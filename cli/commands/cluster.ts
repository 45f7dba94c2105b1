import { readFile, writeFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { getCluster } from "../../governance/reads.ts";
import { registerCluster } from "../../governance/writes.ts";
import {
  type AccessCheck,
  checkAccess,
  DEFAULT_TOKEN_HOURS,
  type OrchestratorKubeconfig,
  onboardContributor,
  renewOrchestratorToken,
} from "../../k8s/contributor/onboard.ts";
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

const TOKEN_HOURS_HELP = `hours the orchestrator's token stays valid (default ${DEFAULT_TOKEN_HOURS}, i.e. 30 days; renew it with daotrain cluster token)`;

/** Writes the orchestrator's kubeconfig (owner-only) and says until when its token is good. */
async function writeOrchestratorKubeconfig(out: string, minted: OrchestratorKubeconfig): Promise<string> {
  await writeFile(out, minted.serviceAccountKubeconfig, { mode: 0o600 });
  return (
    `wrote the orchestrator's kubeconfig to ${out}; its token expires at ${minted.tokenExpiresAt}: ` +
    `renew it before then with daotrain cluster token --kubeconfig <admin kubeconfig> and hand the orchestrator the new file\n`
  );
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
    .option("--token-hours <n>", TOKEN_HOURS_HELP, count)
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
        tokenHours?: number;
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
          ...(options.tokenHours !== undefined ? { tokenHours: options.tokenHours } : {}),
          ...(options.priorityClass ? { priorityClass: options.priorityClass } : {}),
        });
        const wrote = await writeOrchestratorKubeconfig(options.out, result);
        if (options.json) {
          const { serviceAccountKubeconfig: _secret, ...visible } = result;
          process.stdout.write(`${JSON.stringify({ ...visible, kubeconfig: options.out })}\n`);
        } else {
          process.stdout.write(
            `applied ${result.applied.length} objects in namespace ${result.namespace} (${result.gpus} GPUs donated)\n${wrote}` +
              `check it with: daotrain cluster check --kubeconfig ${options.out}\n`,
          );
        }
      },
    );

  cluster
    .command("token")
    .description(
      "issue the orchestrator a fresh bound token (TokenRequest) for an onboarded namespace and write its kubeconfig; --rotate first revokes every token issued before",
    )
    .requiredOption("--kubeconfig <path>", "an admin kubeconfig of the cluster you contribute")
    .option("--namespace <name>", "the namespace you onboarded", "daotrain")
    .option("--token-hours <n>", TOKEN_HOURS_HELP, count)
    .option(
      "--rotate",
      "recreate the orchestrator's ServiceAccount first, so that every earlier token stops working now",
    )
    .option("--out <path>", "where to write the ServiceAccount kubeconfig", "daotrain-sa.kubeconfig")
    .option("--json", "print the result as JSON")
    .action(
      async (options: {
        kubeconfig: string;
        namespace: string;
        tokenHours?: number;
        rotate?: boolean;
        out: string;
        json?: boolean;
      }) => {
        const minted = await renewOrchestratorToken(await readKubeconfig(options.kubeconfig), {
          namespace: options.namespace,
          rotate: options.rotate ?? false,
          ...(options.tokenHours !== undefined ? { tokenHours: options.tokenHours } : {}),
        });
        const wrote = await writeOrchestratorKubeconfig(options.out, minted);
        if (options.json)
          process.stdout.write(
            `${JSON.stringify({ namespace: options.namespace, tokenExpiresAt: minted.tokenExpiresAt, kubeconfig: options.out })}\n`,
          );
        else process.stdout.write(wrote);
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
