import { IAMClient } from "@aws-sdk/client-iam";
import type { Command } from "commander";
import { z } from "zod";
import { parseWith } from "../../spec/errors.ts";
import { parseStoreUri } from "../../storage/index.ts";
import { readClusters, writeStoreEnv } from "../../workers/clusterDirectory.ts";
import { grantStoreKeys, revokeStoreKeys, storeUserName } from "../../workers/storeGrants.ts";
import { CliError, ExitCode } from "../program.ts";

const s3Uri = z.string().refine((uri) => {
  try {
    return parseStoreUri(uri).kind === "s3";
  } catch {
    return false;
  }
}, "must be an s3://bucket/prefix URI");

/**
 * What the store verbs need, from the operator's environment (the worker's own variables), with
 * IAM administrator keys in the standard AWS_* variables or profile.
 */
const StoreAdminEnv = z.object({
  /** The run store whose keys are issued. */
  DAOTRAIN_STORE_URI: s3Uri,
  /** The worker's clusters file, where each cluster's keys are written. */
  DAOTRAIN_CLUSTERS: z.string().min(1),
  /** The IAM API: AWS's own when unset, or e.g. versitygw's IAM service. */
  AWS_ENDPOINT_URL_IAM: z.string().url().optional(),
  /** The S3 endpoint trainers reach the store at (AWS's own when unset). */
  AWS_ENDPOINT_URL_S3: z.string().url().optional(),
  AWS_REGION: z.string().min(1).optional(),
});

function adminEnv() {
  const env = parseWith(StoreAdminEnv, process.env, "environment of daotrain store");
  const iam = new IAMClient({
    region: env.AWS_REGION ?? "us-east-1",
    ...(env.AWS_ENDPOINT_URL_IAM ? { endpoint: env.AWS_ENDPOINT_URL_IAM } : {}),
  });
  return { env, iam };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `daotrain store grant|revoke`: each contributor's own run-store keys, kept in the clusters file. */
export function register(program: Command): void {
  const store = program
    .command("store")
    .description(
      "run-store keys of each contributor's own (env: DAOTRAIN_STORE_URI, DAOTRAIN_CLUSTERS, IAM admin keys in AWS_*, AWS_ENDPOINT_URL_IAM for a non-AWS IAM service)",
    );

  store
    .command("grant")
    .description(
      "issue a cluster's trainers keys that write only its own replica outputs (and scores) and read only the rounds' inputs (and, for a cluster whose entry says evaluates, the rounds' replica outputs), and put them in the clusters file (the key issued before stays valid until the next grant)",
    )
    .argument("<cluster>", "the cluster's name in the clusters file")
    .option("--dataset <s3-uri>", "a dataset store its trainers may read (repeatable)", collect)
    .option("--json", "print the result as JSON")
    .action(async (cluster: string, options: { dataset?: string[]; json?: boolean }) => {
      const { env, iam } = adminEnv();
      const datasets = parseWith(z.array(s3Uri), options.dataset ?? [], "--dataset");
      const entry = (await readClusters(env.DAOTRAIN_CLUSTERS)).find((c) => c.name === cluster);
      if (!entry)
        throw new CliError(
          `the clusters file ${env.DAOTRAIN_CLUSTERS} names no cluster "${cluster}"; add its entry first`,
          ExitCode.usage,
        );
      // A cluster that scores other contributors' outputs (kubernetes.evaluates) must read them.
      const evaluates = entry.access.kind === "kubernetes" && entry.access.evaluates === true;
      const keys = await grantStoreKeys(iam, {
        cluster,
        runStore: env.DAOTRAIN_STORE_URI,
        datasets,
        ...(evaluates ? { evaluates } : {}),
      });
      await writeStoreEnv(env.DAOTRAIN_CLUSTERS, cluster, {
        AWS_ACCESS_KEY_ID: keys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
        ...(env.AWS_ENDPOINT_URL_S3 ? { AWS_ENDPOINT_URL_S3: env.AWS_ENDPOINT_URL_S3 } : {}),
        ...(env.AWS_REGION ? { AWS_REGION: env.AWS_REGION } : {}),
      });
      const user = storeUserName(cluster);
      if (options.json)
        process.stdout.write(`${JSON.stringify({ cluster, user, accessKeyId: keys.accessKeyId })}\n`);
      else
        process.stdout.write(
          `issued IAM user ${user} key ${keys.accessKeyId}; wrote it to ${env.DAOTRAIN_CLUSTERS} (storeEnv of ${cluster}): its trainers use it from their next launch\n`,
        );
    });

  store
    .command("revoke")
    .description(
      "delete a cluster's run-store keys, policy and IAM user, and take them out of the clusters file",
    )
    .argument("<cluster>", "the cluster's name in the clusters file")
    .action(async (cluster: string) => {
      const { env, iam } = adminEnv();
      await revokeStoreKeys(iam, cluster);
      await writeStoreEnv(env.DAOTRAIN_CLUSTERS, cluster, undefined);
      process.stdout.write(`revoked the run-store keys of ${cluster} (IAM user ${storeUserName(cluster)})\n`);
    });
}
