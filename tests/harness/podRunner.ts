// The harness starts the same local components as `daotrain demo --clusters kubernetes`; they live in localstack/.
export * from "../../localstack/podRunner.ts";
