// The harness starts the same local components as `daotrain up`; they live in localstack/.
export * from "../../localstack/temporal.ts";
