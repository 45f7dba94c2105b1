import { defineConfig } from "vitest/config";

// Integration suites start real processes (anvil, Temporal, kube-apiserver, trainers) on a 2-core
// machine, so files run one at a time and get generous timeouts; unit files are fast either way.
export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", ".daotrain/**", "dist/**"],
    fileParallelism: false,
    setupFiles: ["tests/setup/quietTemporal.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ["default"],
  },
});
