import { KubeConfig } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { InvalidInputError } from "../spec/errors.ts";

/**
 * A contributor's kubeconfig is a stranger's input that the worker, which holds the operator key,
 * the codec key and the store keys, would otherwise hand to `@kubernetes/client-node` as it is.
 * That client runs `exec` commands and auth-provider plugins, reads any file a path names, and
 * follows a proxy or skips TLS verification when told to. So the worker parses the YAML itself
 * against this strict schema first: one cluster, one user, one context, an `https://` server, and
 * inline credentials only (`token`, or `client-certificate-data` + `client-key-data`, with an
 * optional `certificate-authority-data`). Everything else is refused, naming the field, and the
 * client is built from the parsed values alone (`toKubeConfig`), never from the text.
 */

/** A token and a CA, or a client certificate, fit in a few KiB; a bigger file is refused unread. */
export const MAX_KUBECONFIG_BYTES = 64 * 1024;

const inlineInstead = (what: string) =>
  `names a file on the worker's machine, which the worker never opens for a contributor; inline it as ${what}`;

/** A field that must be absent; present, it is refused with `why`. */
const refused = (why: string) => z.never({ error: why }).optional();

/** Base64 of PEM text (what the `-data` fields hold). */
const pemData = (what: string) =>
  z
    .string()
    .max(MAX_KUBECONFIG_BYTES)
    .refine((value) => /^[A-Za-z0-9+/=\s]+$/.test(value), `${what} must be base64`)
    .refine(
      (value) => Buffer.from(value, "base64").toString("latin1").includes("-----BEGIN "),
      `${what} must be base64 of PEM text (-----BEGIN …)`,
    );

const httpsServer = z
  .string()
  .max(2048)
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `"${value}" is not a URL` });
      return;
    }
    if (url.protocol !== "https:")
      ctx.addIssue({
        code: "custom",
        message: `must be an https:// URL (is ${url.protocol}): the token would cross the network in clear`,
      });
    if (url.username || url.password)
      ctx.addIssue({ code: "custom", message: "must not carry credentials in the URL" });
    if (url.search || url.hash)
      ctx.addIssue({ code: "custom", message: "must not carry a query or fragment" });
  });

const ClusterFields = z
  .object({
    server: httpsServer,
    "certificate-authority-data": pemData("certificate-authority-data").optional(),
    "tls-server-name": z.string().min(1).max(253).optional(),
    "certificate-authority": refused(inlineInstead("certificate-authority-data")),
    "insecure-skip-tls-verify": refused(
      "turns off TLS verification, so anyone on the path could play the apiserver; give certificate-authority-data instead",
    ),
    "proxy-url": refused("sends the worker's traffic through a proxy the contributor chooses; not accepted"),
  })
  .strict();

/** A bearer token: visible ASCII only, so it cannot smuggle a header into a request. */
const bearerToken = z
  .string()
  .min(1)
  .max(16 * 1024)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces or line breaks");

const UserFields = z
  .object({
    token: bearerToken.optional(),
    "client-certificate-data": pemData("client-certificate-data").optional(),
    "client-key-data": pemData("client-key-data").optional(),
    exec: refused(
      "runs a command on the worker's machine; give an inline token instead (daotrain cluster onboard writes one)",
    ),
    "auth-provider": refused(
      "runs an authentication plugin on the worker's machine; give an inline token instead",
    ),
    tokenFile: refused(inlineInstead("token")),
    "client-certificate": refused(inlineInstead("client-certificate-data")),
    "client-key": refused(inlineInstead("client-key-data")),
    username: refused("basic authentication is not accepted; give a token"),
    password: refused("basic authentication is not accepted; give a token"),
    as: refused("impersonates another identity; not accepted"),
    "as-uid": refused("impersonates another identity; not accepted"),
    "as-groups": refused("impersonates another identity; not accepted"),
    "as-user-extra": refused("impersonates another identity; not accepted"),
  })
  .strict()
  .superRefine((user, ctx) => {
    const certificate = user["client-certificate-data"] !== undefined;
    const key = user["client-key-data"] !== undefined;
    if (certificate !== key)
      ctx.addIssue({
        code: "custom",
        message: "client-certificate-data and client-key-data go together",
        path: [certificate ? "client-key-data" : "client-certificate-data"],
      });
    if ((user.token !== undefined) === certificate)
      ctx.addIssue({
        code: "custom",
        message: "give exactly one credential: token, or client-certificate-data with client-key-data",
      });
  });

const exactlyOne = (what: string) =>
  `must hold exactly one ${what}: the orchestrator's, in the contributor's namespace`;

const KubeconfigFile = z
  .object({
    apiVersion: z.literal("v1").optional(),
    kind: z.literal("Config").optional(),
    preferences: z.object({}).strict().optional(),
    clusters: z
      .array(z.object({ name: z.string().min(1), cluster: ClusterFields }).strict())
      .length(1, exactlyOne("cluster")),
    users: z
      .array(z.object({ name: z.string().min(1), user: UserFields }).strict())
      .length(1, exactlyOne("user")),
    contexts: z
      .array(
        z
          .object({
            name: z.string().min(1),
            context: z
              .object({
                cluster: z.string().min(1),
                user: z.string().min(1),
                namespace: z.string().min(1).max(63).optional(),
              })
              .strict(),
          })
          .strict(),
      )
      .length(1, exactlyOne("context")),
    "current-context": z.string().min(1).optional(),
  })
  .strict()
  .superRefine((file, ctx) => {
    const [cluster] = file.clusters;
    const [user] = file.users;
    const [context] = file.contexts;
    if (!cluster || !user || !context) return;
    if (context.context.cluster !== cluster.name)
      ctx.addIssue({
        code: "custom",
        message: `names cluster "${context.context.cluster}", not the file's one cluster "${cluster.name}"`,
        path: ["contexts", 0, "context", "cluster"],
      });
    if (context.context.user !== user.name)
      ctx.addIssue({
        code: "custom",
        message: `names user "${context.context.user}", not the file's one user "${user.name}"`,
        path: ["contexts", 0, "context", "user"],
      });
    if (file["current-context"] !== undefined && file["current-context"] !== context.name)
      ctx.addIssue({
        code: "custom",
        message: `names context "${file["current-context"]}", not the file's one context "${context.name}"`,
        path: ["current-context"],
      });
  });

/** What the worker takes from a contributor's kubeconfig: values only, nothing to run or open. */
export interface ContributorKubeconfig {
  clusterName: string;
  server: string;
  caData?: string;
  tlsServerName?: string;
  userName: string;
  credential: { token: string } | { certData: string; keyData: string };
  contextName: string;
  namespace?: string;
}

/** Each issue as `path.to.field: why`; an unknown key is named with its full path. */
function problemsOf(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const at = (path: readonly PropertyKey[]) => (path.length > 0 ? path.join(".") : "(root)");
    if (issue.code === "unrecognized_keys")
      return issue.keys.map(
        (key) => `${at([...issue.path, key])}: is not a field daotrain accepts in a contributor kubeconfig`,
      );
    return [`${at(issue.path)}: ${issue.message}`];
  });
}

/**
 * Parses a contributor's kubeconfig text; throws `InvalidInputError` naming every refused field.
 * YAML aliases are refused too (a kubeconfig needs none, and they are how a small file expands).
 */
export function parseContributorKubeconfig(text: string, source = "kubeconfig"): ContributorKubeconfig {
  if (Buffer.byteLength(text, "utf8") > MAX_KUBECONFIG_BYTES)
    throw new InvalidInputError(source, [`(root): larger than ${MAX_KUBECONFIG_BYTES} bytes`]);
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 0, uniqueKeys: true });
  } catch (error) {
    throw new InvalidInputError(source, [`(root): not YAML: ${(error as Error).message.split("\n")[0]}`]);
  }
  const parsed = KubeconfigFile.safeParse(data);
  if (!parsed.success) throw new InvalidInputError(source, problemsOf(parsed.error));
  const { clusters, users, contexts } = parsed.data;
  const [{ name: clusterName, cluster }] = clusters as [(typeof clusters)[number]];
  const [{ name: userName, user }] = users as [(typeof users)[number]];
  const [{ name: contextName, context }] = contexts as [(typeof contexts)[number]];
  return {
    clusterName,
    server: cluster.server,
    ...(cluster["certificate-authority-data"] ? { caData: cluster["certificate-authority-data"] } : {}),
    ...(cluster["tls-server-name"] ? { tlsServerName: cluster["tls-server-name"] } : {}),
    userName,
    credential: user.token
      ? { token: user.token }
      : { certData: user["client-certificate-data"] ?? "", keyData: user["client-key-data"] ?? "" },
    contextName,
    ...(context.namespace ? { namespace: context.namespace } : {}),
  };
}

/** The client's configuration, built from parsed values only (no file, command or proxy in it). */
export function toKubeConfig(parsed: ContributorKubeconfig): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [
      {
        name: parsed.clusterName,
        server: parsed.server,
        skipTLSVerify: false,
        ...(parsed.caData ? { caData: parsed.caData } : {}),
        ...(parsed.tlsServerName ? { tlsServerName: parsed.tlsServerName } : {}),
      },
    ],
    users: [{ name: parsed.userName, ...parsed.credential }],
    contexts: [
      {
        name: parsed.contextName,
        cluster: parsed.clusterName,
        user: parsed.userName,
        ...(parsed.namespace ? { namespace: parsed.namespace } : {}),
      },
    ],
    currentContext: parsed.contextName,
  });
  return config;
}
