import { execFile } from "node:child_process";
import { closeSync, constants, existsSync, openSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { stringify as toYaml } from "yaml";
import { readClusters } from "../../workers/clusterDirectory.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { runToEnd } from "./harness.ts";

// A hostile kubeconfig (issue 12.1). "mallory" is registered and admitted by the DAO like any
// contributor, and hands the orchestrator a kubeconfig built to make the worker, which holds the
// operator, codec and store keys, run a command, open files, or talk through someone else. Before
// the fix the worker ran mallory's `exec` command during its first survey of the clusters.

let stack: OrchestrationStack;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "alpha", gpus: 4, ownerIndex: 0 },
    { name: "mallory", gpus: 4, ownerIndex: 1 },
  ]);
  worker = await startWorker(stack.env);
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

/** A kubeconfig that is valid in every way but `change`, which mallory adds. */
function kubeconfig(change: (config: KubeconfigObject) => void): string {
  const config: KubeconfigObject = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "m", cluster: { server: "https://127.0.0.1:9" } }],
    users: [{ name: "m", user: { token: "mallory" } }],
    contexts: [{ name: "m", context: { cluster: "m", user: "m", namespace: "daotrain" } }],
    "current-context": "m",
  };
  change(config);
  return toYaml(config);
}
type KubeconfigObject = {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  [key: string]: unknown;
};

/** Whether some process has the FIFO open for reading (opening the write end fails with ENXIO if not). */
function fifoOpened(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENXIO") return false;
    throw error;
  }
}

describe("a contributor's hostile kubeconfig", () => {
  test("one whose user runs a command is refused naming users.0.user.exec: the command never runs, and the round completes on the honest cluster", async () => {
    const marker = join(stack.dir, "exec-ran");
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "stolen" },
    });
    const path = join(stack.dir, "mallory.kubeconfig");
    await writeFile(
      path,
      kubeconfig((c) => {
        c.users[0]!.user = {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: "/bin/sh",
            args: ["-c", `touch ${marker}; echo '${credential}'`],
            interactiveMode: "Never",
          },
        };
      }),
    );
    await stack.writeClusters([
      stack.localCluster("alpha"),
      { name: "mallory", kubernetes: { kubeconfig: path } },
    ]);
    const mallory = (await readClusters(join(stack.dir, "clusters.yaml"))).find((c) => c.name === "mallory");
    expect(mallory?.access).toMatchObject({
      kind: "refused",
      reason: expect.stringMatching(/users\.0\.user\.exec: runs a command on the worker's machine/),
    });

    const { status } = await runToEnd(stack, stack.spec({ rounds: 1, replicasPerRound: 2, minReplicas: 2 }));
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    expect(status.recent[0]?.replicas.map((r) => [r.cluster, r.phase])).toEqual([
      ["alpha", "accepted"],
      ["alpha", "accepted"],
    ]);
    expect(existsSync(marker)).toBe(false);
  });

  test("every other way to make the worker run, open or trust something is refused by the worker process naming the field, and nothing named is opened or connected to", async () => {
    // Files the kubeconfigs name are FIFOs: whoever opens one to read is seen (and would hang).
    const fifo = (name: string) => join(stack.dir, `${name}.fifo`);
    const fifos = ["token", "cert", "key", "ca"].map(fifo);
    await promisify(execFile)("mkfifo", fifos);
    const connections: string[] = [];
    const proxy: Server = createServer((socket) => {
      connections.push("proxy");
      socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;

    const hostile: Record<string, { change: (c: KubeconfigObject) => void; field: RegExp }> = {
      "auth-provider": {
        change: (c) => {
          c.users[0]!.user = { "auth-provider": { name: "oidc", config: { "idp-issuer-url": proxyUrl } } };
        },
        field: /users\.0\.user\.auth-provider: runs an authentication plugin/,
      },
      "token-file": {
        change: (c) => {
          c.users[0]!.user = { tokenFile: fifo("token") };
        },
        field: /users\.0\.user\.tokenFile: names a file on the worker's machine/,
      },
      "client-cert-files": {
        change: (c) => {
          c.users[0]!.user = { "client-certificate": fifo("cert"), "client-key": fifo("key") };
        },
        field: /users\.0\.user\.client-certificate: names a file.*users\.0\.user\.client-key: names a file/,
      },
      "ca-file": {
        change: (c) => {
          c.clusters[0]!.cluster["certificate-authority"] = fifo("ca");
        },
        field: /clusters\.0\.cluster\.certificate-authority: names a file/,
      },
      proxy: {
        change: (c) => {
          c.clusters[0]!.cluster["proxy-url"] = proxyUrl;
        },
        field: /clusters\.0\.cluster\.proxy-url: sends the worker's traffic through a proxy/,
      },
      "skip-tls": {
        change: (c) => {
          c.clusters[0]!.cluster["insecure-skip-tls-verify"] = true;
        },
        field: /clusters\.0\.cluster\.insecure-skip-tls-verify: turns off TLS verification/,
      },
      "plain-http": {
        change: (c) => {
          c.clusters[0]!.cluster.server = proxyUrl;
        },
        field: /clusters\.0\.cluster\.server: must be an https:\/\/ URL/,
      },
      "two-contexts": {
        change: (c) => {
          c.contexts.push({ name: "n", context: { cluster: "m", user: "m" } });
        },
        field: /contexts: must hold exactly one context/,
      },
      "two-users": {
        change: (c) => {
          c.users.push({ name: "admin", user: { token: "x" } });
        },
        field: /users: must hold exactly one user/,
      },
      impersonation: {
        change: (c) => {
          c.users[0]!.user.as = "system:admin";
        },
        field: /users\.0\.user\.as: impersonates another identity/,
      },
    };
    const entries = [];
    for (const [name, { change }] of Object.entries(hostile)) {
      const path = join(stack.dir, `mallory-${name}.kubeconfig`);
      await writeFile(path, kubeconfig(change));
      entries.push({ name: `mallory-${name}`, kubernetes: { kubeconfig: path } });
    }
    await stack.writeClusters([stack.localCluster("alpha"), ...entries]);
    try {
      const process = await stack.startWorkerProcess();
      try {
        const output = process.recentOutput();
        for (const [name, { field }] of Object.entries(hostile)) {
          const line = output.split("\n").find((l) => l.includes(`cluster mallory-${name} refused:`));
          expect(line, name).toMatch(field);
        }
        expect(fifos.filter(fifoOpened)).toEqual([]);
        expect(connections).toEqual([]);
      } finally {
        await process.stop();
      }
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
