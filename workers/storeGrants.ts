import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  EntityAlreadyExistsException,
  type IAMClient,
  ListAccessKeysCommand,
  NoSuchEntityException,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { InvalidInputError } from "../spec/errors.ts";
import { parseStoreUri } from "../storage/index.ts";

/**
 * Run-store keys of a contributor's own, so that its trainers never hold the worker's. One IAM
 * user per contributed cluster (AWS IAM, or any server speaking its API, such as versitygw's IAM
 * service) with one inline policy: write and read its own replica outputs and scores
 * (`runs/<run>/rounds/<r>/clusters/<cluster>/…`), read the rounds' inputs (the initial and global
 * checkpoints, the approved datasets), and nothing else: not another contributor's outputs (unless
 * it evaluates them, see `TrainerGrant.evaluates`), never another evaluator's scores, not a global
 * checkpoint's write, not the public store, no listing.
 */

/** The IAM user that holds a cluster's trainers' keys. */
export function storeUserName(cluster: string): string {
  return `daotrain-${cluster}`;
}

const POLICY_NAME = "daotrain-trainer";
/** A run id is 0x and 64 hex digits (spec/runSpec.ts Bytes32). */
const RUN_ID = "?".repeat(66);
/** Rounds count from 1 to at most 10,000 (the run spec's bound): one to five digits. */
const ROUND_NUMBERS = [1, 2, 3, 4, 5].map((digits) => "?".repeat(digits));

export interface TrainerGrant {
  /** The cluster's name in the clusters file (its replicas' prefix). */
  cluster: string;
  /** The run store, `s3://bucket/prefix`. */
  runStore: string;
  /** Stores of the datasets its trainers read, `s3://bucket/prefix` each. */
  datasets: readonly string[];
  /**
   * It runs evaluation pods (workflows/evaluation.ts): it may then read every cluster's replica
   * outputs (`…/clusters/<any>/replicas/…`), still no other evaluator's scores (`…/scores/…`), so
   * a lazy evaluator cannot copy a peer's.
   */
  evaluates?: boolean;
}

interface PolicyDocument {
  Version: "2012-10-17";
  Statement: { Sid: string; Effect: "Allow"; Action: string[]; Resource: string[] }[];
}

function bucketOf(uri: string, what: string): { bucket: string; under: (key: string) => string } {
  const location = parseStoreUri(uri);
  if (location.kind !== "s3") throw new InvalidInputError(what, [`${uri}: store keys are for s3:// stores`]);
  const { bucket, prefix } = location;
  return { bucket, under: (key) => `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ""}${key}` };
}

/**
 * The trainer policy of one cluster. IAM's `*` also matches `/`, so run ids and round numbers are
 * spelled with `?` (one character each) at their exact lengths: a pattern can then only match
 * a real run's keys at the very place the layout (`rounds/runStore.ts`) puts them, never under
 * another cluster's prefix or a global checkpoint.
 */
export function trainerPolicy(grant: TrainerGrant): PolicyDocument {
  const store = bucketOf(grant.runStore, "run store");
  const rounds = (rest: string) =>
    ROUND_NUMBERS.map((round) => store.under(`runs/${RUN_ID}/rounds/${round}/${rest}`));
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OwnReplicaOutputs",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        Resource: rounds(`clusters/${grant.cluster}/*`),
      },
      {
        Sid: "RoundInputs",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [
          store.under(`runs/${RUN_ID}/init/*`),
          ...rounds("global/*"),
          ...grant.datasets.map((uri) => bucketOf(uri, "dataset store").under("*")),
        ],
      },
      ...(grant.evaluates
        ? [
            {
              Sid: "RoundOutputsToScore",
              Effect: "Allow" as const,
              Action: ["s3:GetObject"],
              // One pattern, not one per round-number length (IAM caps a user's inline policy at
              // 2,048 bytes): `*` may span `/` here, which lets it read no more than outputs, since
              // only a `…/clusters/<c>/replicas/…` key matches and scores live under `…/scores/`.
              Resource: [store.under(`runs/${RUN_ID}/rounds/*/clusters/*/replicas/*`)],
            },
          ]
        : []),
    ],
  };
}

export interface StoreKeys {
  accessKeyId: string;
  secretAccessKey: string;
}

async function ignoring<T>(error: new (...args: never[]) => Error, call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (thrown) {
    if (thrown instanceof error) return undefined;
    throw thrown;
  }
}

/**
 * Creates (or updates) the cluster's IAM user and policy and issues it a new access key. The key
 * issued before stays valid, so rounds in flight keep working; any older one is deleted, so a
 * cluster never holds more than two (IAM's limit).
 */
export async function grantStoreKeys(iam: IAMClient, grant: TrainerGrant): Promise<StoreKeys> {
  const UserName = storeUserName(grant.cluster);
  await ignoring(EntityAlreadyExistsException, iam.send(new CreateUserCommand({ UserName })));
  await iam.send(
    new PutUserPolicyCommand({
      UserName,
      PolicyName: POLICY_NAME,
      PolicyDocument: JSON.stringify(trainerPolicy(grant)),
    }),
  );
  const existing = (await iam.send(new ListAccessKeysCommand({ UserName }))).AccessKeyMetadata ?? [];
  const newestFirst = [...existing].sort(
    (a, b) => (b.CreateDate?.getTime() ?? 0) - (a.CreateDate?.getTime() ?? 0),
  );
  for (const old of newestFirst.slice(1))
    await iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId: old.AccessKeyId }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName }));
  if (!AccessKey?.AccessKeyId || !AccessKey.SecretAccessKey)
    throw new Error(`the IAM service issued no access key for ${UserName}`);
  return { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
}

/** Deletes the cluster's keys, policy and user: its trainers lose the run store at once. */
export async function revokeStoreKeys(iam: IAMClient, cluster: string): Promise<void> {
  const UserName = storeUserName(cluster);
  const keys = await ignoring(NoSuchEntityException, iam.send(new ListAccessKeysCommand({ UserName })));
  for (const key of keys?.AccessKeyMetadata ?? [])
    await iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId: key.AccessKeyId }));
  await ignoring(
    NoSuchEntityException,
    iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName: POLICY_NAME })),
  );
  await ignoring(NoSuchEntityException, iam.send(new DeleteUserCommand({ UserName })));
}
