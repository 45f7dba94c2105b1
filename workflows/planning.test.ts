import { expect, test } from "vitest";
import { PEER_TIME_FACTOR, PEER_TIME_SLACK_SECONDS, paidRunTimes } from "./planning.ts";
import type { Hex, ReplicaResult } from "./types.ts";

type Succeeded = Extract<ReplicaResult, { phase: "succeeded" }>;
const cluster = `0x${"aa".repeat(32)}` as Hex;

function took(replica: number, seconds: number): Succeeded {
  return {
    replica,
    clusterId: cluster,
    phase: "succeeded",
    outputUri: `file:///out/${replica}`,
    startedAtMs: 1_000_000,
    finishedAtMs: 1_000_000 + seconds * 1000,
  };
}
const accept = (...replicas: number[]) => replicas.map((replica) => ({ replica, accepted: true as const }));
const paidSeconds = (results: Succeeded[]) => results.map((r) => (r.finishedAtMs - r.startedAtMs) / 1000);

test("honest replicas within 3× (+ slack) of the lower median are paid what they claim", () => {
  const results = [took(0, 600), took(1, 900), took(2, 1700), took(3, 650)];
  expect(paidSeconds(paidRunTimes(results, accept(0, 1, 2, 3), 6 * 3600))).toEqual([600, 900, 1700, 650]);
});

test("a replica claiming far more than its peers is paid 3× the lower median plus the slack", () => {
  const results = [took(0, 600), took(1, 620), took(2, 3 * 3600), took(3, 3 * 3600)];
  const cap = PEER_TIME_FACTOR * 620 + PEER_TIME_SLACK_SECONDS;
  expect(paidSeconds(paidRunTimes(results, accept(0, 1, 2, 3), 6 * 3600))).toEqual([600, 620, cap, cap]);
});

test("no replica is paid beyond the deadline, and rejected replicas are not what sets the reference", () => {
  const results = [took(0, 5 * 3600), took(1, 5 * 3600), took(2, 1)];
  const paid = paidRunTimes(results, [...accept(0, 1), { replica: 2, accepted: false }], 3600);
  expect(paidSeconds(paid)).toEqual([3600, 3600, 1]);
});
