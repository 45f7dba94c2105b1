import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { expect, test } from "vitest";
import { containerEnv, type EnvSources, MissingEnvSourceError } from "../harness/podRunner.ts";

// The pod runner's env as kubelet builds it, from fixed Secrets and ConfigMaps; the path through a
// real apiserver (and the wait for a Secret that is not there yet) is in contributedClusters.test.ts.

const pod: V1Pod = { metadata: { name: "p-0", namespace: "ns" }, spec: { containers: [] } };

function sources(
  secrets: Record<string, Record<string, string>>,
  configMaps: Record<string, Record<string, string>> = {},
): EnvSources {
  return {
    secret: async (name) => secrets[name],
    configMap: async (name) => configMaps[name],
  };
}

function container(spec: Omit<V1Container, "name">): V1Container {
  return { name: "trainer", image: "x", ...spec };
}

test("envFrom Secrets and ConfigMaps (with prefix) come first, env entries override them and expand against them", async () => {
  const env = await containerEnv(
    pod,
    container({
      envFrom: [
        { secretRef: { name: "store" } },
        { configMapRef: { name: "settings" }, prefix: "CFG_" },
        { secretRef: { name: "absent", optional: true } },
      ],
      env: [
        { name: "AWS_REGION", value: "eu-west-1" },
        { name: "URL", value: "$(AWS_ENDPOINT_URL_S3)/bucket" },
        { name: "TOKEN", valueFrom: { secretKeyRef: { name: "other", key: "token" } } },
        { name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "mode" } } },
        { name: "MAYBE", valueFrom: { secretKeyRef: { name: "other", key: "nope", optional: true } } },
        { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      ],
    }),
    sources(
      {
        store: { AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_S3: "http://s3:9000", "bad=key": "skipped" },
        other: { token: "t0k" },
      },
      { settings: { mode: "fast" } },
    ),
  );
  expect(env).toEqual({
    AWS_REGION: "eu-west-1",
    AWS_ENDPOINT_URL_S3: "http://s3:9000",
    CFG_mode: "fast",
    URL: "http://s3:9000/bucket",
    TOKEN: "t0k",
    MODE: "fast",
    POD: "p-0",
  });
});

test("a missing non-optional Secret, ConfigMap or key is kubelet's CreateContainerConfigError message", async () => {
  const none = sources({ other: { token: "t" } });
  await expect(
    containerEnv(pod, container({ envFrom: [{ secretRef: { name: "store" } }] }), none),
  ).rejects.toThrow(new MissingEnvSourceError('secret "store" not found'));
  await expect(
    containerEnv(pod, container({ envFrom: [{ configMapRef: { name: "settings" } }] }), none),
  ).rejects.toThrow('configmap "settings" not found');
  await expect(
    containerEnv(
      pod,
      container({ env: [{ name: "T", valueFrom: { secretKeyRef: { name: "other", key: "nope" } } }] }),
      none,
    ),
  ).rejects.toThrow("couldn't find key nope in Secret ns/other");
});
