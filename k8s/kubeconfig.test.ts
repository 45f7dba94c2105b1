import { expect, test } from "vitest";
import { stringify } from "yaml";
import { MAX_KUBECONFIG_BYTES, parseContributorKubeconfig, toKubeConfig } from "./kubeconfig.ts";

const pem = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");

function file(overrides: { cluster?: object; user?: object; extra?: object } = {}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: "https://10.0.0.1:6443", ...overrides.cluster } }],
    users: [{ name: "u", user: overrides.user ?? { token: "abc" } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "daotrain" } }],
    "current-context": "x",
    ...overrides.extra,
  });
}

test("keeps the values of an inline-credential kubeconfig and builds the client from them alone", () => {
  const parsed = parseContributorKubeconfig(file({ cluster: { "certificate-authority-data": pem } }));
  expect(parsed).toEqual({
    clusterName: "c",
    server: "https://10.0.0.1:6443",
    caData: pem,
    userName: "u",
    credential: { token: "abc" },
    contextName: "x",
    namespace: "daotrain",
  });
  const config = toKubeConfig(parsed);
  expect(config.getCurrentCluster()).toMatchObject({ server: "https://10.0.0.1:6443", skipTLSVerify: false });
  expect(config.getCurrentUser()).toEqual({ name: "u", token: "abc" });
});

test("accepts a client certificate with its key, but neither alone nor with a token", () => {
  const pair = { "client-certificate-data": pem, "client-key-data": pem };
  expect(parseContributorKubeconfig(file({ user: pair })).credential).toEqual({
    certData: pem,
    keyData: pem,
  });
  expect(() => parseContributorKubeconfig(file({ user: { "client-certificate-data": pem } }))).toThrow(
    /users\.0\.user\.client-key-data: client-certificate-data and client-key-data go together/,
  );
  expect(() => parseContributorKubeconfig(file({ user: { ...pair, token: "abc" } }))).toThrow(
    /give exactly one credential/,
  );
});

test("refuses a token that could smuggle a header, unknown fields, and contexts naming another cluster", () => {
  expect(() => parseContributorKubeconfig(file({ user: { token: "abc\r\nX-Evil: 1" } }))).toThrow(
    /users\.0\.user\.token: must be printable ASCII/,
  );
  expect(() => parseContributorKubeconfig(file({ cluster: { extensions: [] } }))).toThrow(
    /clusters\.0\.cluster\.extensions: is not a field daotrain accepts/,
  );
  expect(() => parseContributorKubeconfig(file({ extra: { "current-context": "other" } }))).toThrow(
    /current-context: names context "other"/,
  );
});

test("refuses YAML aliases and files over the size bound before reading their fields", () => {
  const aliased = "a: &x [1]\nclusters: *x\n";
  expect(() => parseContributorKubeconfig(aliased)).toThrow(/not YAML/);
  expect(() => parseContributorKubeconfig(" ".repeat(MAX_KUBECONFIG_BYTES + 1))).toThrow(/larger than/);
});
