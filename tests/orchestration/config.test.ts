import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeKeystore } from "../../governance/keys.ts";
import { InvalidInputError } from "../../spec/errors.ts";
import { clusterIdOf, readClusters } from "../../workers/clusterDirectory.ts";
import { AesGcmCodec, CodecKeyError } from "../../workers/codec.ts";
import { confirmationsFor, operatorKeyOf, parseWorkerEnv } from "../../workers/config.ts";

// The worker's boundaries: its environment, its clusters file and its codec refuse bad input by name.

let dir: string;

/** A kubeconfig of the shape `daotrain cluster onboard` writes: inline token, one context. */
async function writeContributorKubeconfig(name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{ name: lab, cluster: { server: 'https://10.0.0.1:6443' } }]",
      "users: [{ name: sa, user: { token: abc.def } }]",
      "contexts: [{ name: lab, context: { cluster: lab, user: sa, namespace: daotrain } }]",
      "current-context: lab",
    ].join("\n"),
  );
  return path;
}
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const validEnv = () => ({
  DAOTRAIN_CODEC_KEY: randomBytes(32).toString("base64"),
  DAOTRAIN_DEPLOYMENT: "/etc/daotrain/deployment.json",
  DAOTRAIN_OPERATOR_KEY: `0x${"ab".repeat(32)}`,
  DAOTRAIN_STORE_URI: "file:///var/lib/daotrain/store",
  DAOTRAIN_PUBLIC_STORE_URI: "s3://daotrain-public/checkpoints",
  DAOTRAIN_CLUSTERS: "/etc/daotrain/clusters.yaml",
});

describe("worker environment", () => {
  test("fills the defaults of a valid environment", () => {
    const env = parseWorkerEnv(validEnv());
    expect(env).toMatchObject({
      temporal: { namespace: "default", connection: { address: "127.0.0.1:7233" } },
      DAOTRAIN_TRAINER_COMMAND: ["node", "trainer/main.ts"],
      DAOTRAIN_START_WATCHERS: true,
      DAOTRAIN_METRICS_PORT: 9464,
    });
  });

  test("names every wrong variable and says how to fix the codec key", () => {
    const error = (() => {
      try {
        parseWorkerEnv({
          ...validEnv(),
          DAOTRAIN_CODEC_KEY: "c2hvcnQ=",
          DAOTRAIN_STORE_URI: "store",
          DAOTRAIN_TRAINER_COMMAND: "node",
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    const problems = (error as InvalidInputError).problems.join("\n");
    expect(problems).toMatch(/DAOTRAIN_CODEC_KEY: must be 32 bytes in base64 \(`openssl rand -base64 32`\)/);
    expect(problems).toMatch(/DAOTRAIN_STORE_URI: "store": not a URI/);
    expect(problems).toMatch(/DAOTRAIN_TRAINER_COMMAND: must be a JSON array/);
  });
});

describe("worker environment: keys and chain settings", () => {
  const problemsOf = (env: Record<string, string | undefined>) => {
    try {
      parseWorkerEnv(env as NodeJS.ProcessEnv);
    } catch (error) {
      if (error instanceof InvalidInputError) return error.problems.join("\n");
      throw error;
    }
    return "";
  };

  test("signs as the operator from a keystore and its password file, and refuses both sources, or neither, by name", async () => {
    const key = `0x${"cd".repeat(32)}` as const;
    const keystore = join(dir, "operator.json");
    const passwordFile = join(dir, "operator.password");
    await writeKeystore(keystore, key, "operator password", { scryptN: 1024 });
    await writeFile(passwordFile, "operator password\n");
    const { DAOTRAIN_OPERATOR_KEY: _inline, ...withoutKey } = validEnv();
    const env = parseWorkerEnv({
      ...withoutKey,
      DAOTRAIN_OPERATOR_KEYSTORE: keystore,
      DAOTRAIN_OPERATOR_PASSWORD_FILE: passwordFile,
    });
    expect(await operatorKeyOf(env)).toBe(key);

    expect(problemsOf(withoutKey)).toMatch(
      /DAOTRAIN_OPERATOR_KEYSTORE .* or DAOTRAIN_OPERATOR_KEY: is required/,
    );
    expect(problemsOf({ ...validEnv(), DAOTRAIN_OPERATOR_KEYSTORE: keystore })).toMatch(
      /DAOTRAIN_OPERATOR_KEY, DAOTRAIN_OPERATOR_KEYSTORE: give one, not both/,
    );
    expect(problemsOf({ ...withoutKey, DAOTRAIN_OPERATOR_KEYSTORE: keystore })).toMatch(
      /DAOTRAIN_OPERATOR_PASSWORD_FILE: is required with DAOTRAIN_OPERATOR_KEYSTORE/,
    );
  });

  test("takes codec keys newest first, and refuses none, both variables, or a short key", () => {
    const [a, b] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
    const { DAOTRAIN_CODEC_KEY: _single, ...withoutCodec } = validEnv();
    const env = parseWorkerEnv({ ...withoutCodec, DAOTRAIN_CODEC_KEYS: `${a}, ${b}` });
    expect(AesGcmCodec.fromSettings(env).keyId).toBe(new AesGcmCodec(Buffer.from(a, "base64")).keyId);
    expect(problemsOf(withoutCodec)).toMatch(/DAOTRAIN_CODEC_KEYS \(or DAOTRAIN_CODEC_KEY\): is required/);
    expect(problemsOf({ ...validEnv(), DAOTRAIN_CODEC_KEYS: a })).toMatch(/give one/);
    expect(problemsOf({ ...withoutCodec, DAOTRAIN_CODEC_KEYS: `${a},c2hvcnQ=` })).toMatch(
      /DAOTRAIN_CODEC_KEYS\.1: must be 32 bytes/,
    );
  });

  test("waits for no confirmations on a development chain and 12 elsewhere unless told", () => {
    const env = parseWorkerEnv(validEnv());
    expect(confirmationsFor(env, 31_337)).toBe(0);
    expect(confirmationsFor(env, 8453)).toBe(12);
    expect(confirmationsFor(parseWorkerEnv({ ...validEnv(), DAOTRAIN_CONFIRMATIONS: "3" }), 8453)).toBe(3);
    expect(env.DAOTRAIN_ALLOW_FILE_SPECS).toBe(false);
  });
});

describe("clusters file", () => {
  test("reads local and Kubernetes clusters, with the kubeconfig's values and the default id", async () => {
    const kubeconfig = await writeContributorKubeconfig("sa.kubeconfig");
    const file = join(dir, "clusters.yaml");
    await writeFile(
      file,
      `clusters:\n- name: home\n  local: { workDir: ${dir}/home, gpus: 2 }\n- name: lab\n  kubernetes: { kubeconfig: ${kubeconfig}, namespace: daotrain }\n`,
    );
    expect(await readClusters(file)).toEqual([
      { id: clusterIdOf("home"), name: "home", access: { kind: "local", workDir: `${dir}/home`, gpus: 2 } },
      {
        id: clusterIdOf("lab"),
        name: "lab",
        access: {
          kind: "kubernetes",
          kubeconfig: {
            clusterName: "lab",
            server: "https://10.0.0.1:6443",
            userName: "sa",
            credential: { token: "abc.def" },
            contextName: "lab",
            namespace: "daotrain",
          },
          namespace: "daotrain",
        },
      },
    ]);
  });

  test("gives a contributor's own store keys to that cluster only, and refuses a bad key name", async () => {
    const file = join(dir, "keys.yaml");
    await writeFile(
      file,
      `clusters:\n- name: home\n  local: { workDir: ${dir}/home, gpus: 2 }\n  storeEnv: { AWS_ACCESS_KEY_ID: home-key, AWS_SECRET_ACCESS_KEY: home-secret }\n- name: lab\n  local: { workDir: ${dir}/lab, gpus: 1 }\n`,
    );
    const [home, lab] = await readClusters(file);
    expect(home?.storeEnv).toEqual({ AWS_ACCESS_KEY_ID: "home-key", AWS_SECRET_ACCESS_KEY: "home-secret" });
    expect(lab?.storeEnv).toBeUndefined();
    const bad = join(dir, "bad-keys.yaml");
    await writeFile(
      bad,
      `clusters:\n- name: home\n  local: { workDir: /x, gpus: 1 }\n  storeEnv: { aws-key: x }\n`,
    );
    await expect(readClusters(bad)).rejects.toThrow(
      /clusters\.0\.storeEnv\.aws-key: "aws-key" is not an environment variable name/,
    );
  });

  test("refuses an entry with both executors, naming it", async () => {
    const file = join(dir, "both.yaml");
    await writeFile(
      file,
      `clusters:\n- name: odd\n  local: { workDir: /x, gpus: 1 }\n  kubernetes: { kubeconfig: /y }\n`,
    );
    await expect(readClusters(file)).rejects.toThrow(
      /clusters\.0\.local: give exactly one of local or kubernetes/,
    );
  });

  test("carries a Kubernetes cluster's Kueue LocalQueue, and refuses one that is not a label value", async () => {
    const kubeconfig = await writeContributorKubeconfig("queued.kubeconfig");
    const file = join(dir, "queued.yaml");
    await writeFile(
      file,
      `clusters:\n- name: lab\n  kubernetes: { kubeconfig: ${kubeconfig}, queue: daotrain-gpus }\n`,
    );
    expect((await readClusters(file))[0]?.access).toMatchObject({
      kind: "kubernetes",
      queue: "daotrain-gpus",
    });
    await writeFile(
      file,
      `clusters:\n- name: lab\n  kubernetes: { kubeconfig: ${kubeconfig}, queue: "GPUs please" }\n`,
    );
    await expect(readClusters(file)).rejects.toThrow(
      /clusters\.0\.kubernetes\.queue: must be a LocalQueue name/,
    );
  });
});

describe("daotrain run", () => {
  test("refuses a malformed run id with exit code 2, naming the expected form", async () => {
    const cli = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
    const failure = await promisify(execFile)(process.execPath, [cli, "run", "status", "run-42"], {
      env: { ...process.env, DAOTRAIN_CODEC_KEY: randomBytes(32).toString("base64") },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(
      /run id "run-42" must be 0x followed by 64 lowercase hex digits/,
    );
  });
});

describe("payload codec", () => {
  test("round-trips payloads and refuses one sealed with another key, naming both keys", async () => {
    const codec = new AesGcmCodec(randomBytes(32));
    const payload = {
      metadata: { encoding: Buffer.from("json/plain") },
      data: Buffer.from('{"token":"secret"}'),
    };
    const [sealed] = await codec.encode([payload]);
    expect(Buffer.from(sealed!.data!).includes("secret")).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(Buffer.from(opened!.data!).toString()).toBe('{"token":"secret"}');
    const other = new AesGcmCodec(randomBytes(32));
    await expect(other.decode([sealed!])).rejects.toThrow(CodecKeyError);
    await expect(other.decode([sealed!])).rejects.toThrow(codec.keyId);
  });
});
