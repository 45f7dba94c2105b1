import { parseRoundJobSpec, type RoundJobSpec, type RoundJobSpecInput } from "../../k8s/cluster.ts";

/** A 0x-prefixed bytes32 of one repeated hex digit. */
export const hex = (digit: string) => `0x${digit.repeat(64)}`;

/**
 * A round of `replicas` (one shard each) running `command`, for tests of what a cluster does with
 * the Job rather than of training: placeholder inputs, one GPU per replica unless overridden.
 */
export function probeRound(
  command: string[],
  replicas: number[],
  extra: Partial<RoundJobSpecInput> = {},
): RoundJobSpec {
  return parseRoundJobSpec({
    runId: hex("d"),
    round: 0,
    image: "daotrain/trainer:host-process",
    command,
    replicas: replicas.map((replica) => ({ replica, shards: [replica], outputUri: `s3://runs/${replica}` })),
    totalReplicas: replicas.length,
    gpusPerReplica: 1,
    initUri: "s3://runs/init",
    initRoot: hex("a"),
    datasetUri: "s3://datasets/d",
    datasetRoot: hex("b"),
    innerSteps: 1,
    seed: 1,
    ...extra,
  });
}
