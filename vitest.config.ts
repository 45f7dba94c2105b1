import { configDefaults, defineConfig } from "vitest/config";

// Most integration files wait on real processes (Temporal timers, apiserver watches, blocks,
// trainer start-up) more than they compute, so two run at once on the 2-core machine: each starts
// its own anvil, Temporal, apiservers and store on ports it picks, and shares nothing with the
// other. Files that take a machine-wide resource run afterwards, one at a time: a real kubelet
// node (root, containerd, a pod bridge on a free /24, cgroups whose limits a test measures).
const exclusive = [
  "tests/containers/**/*.test.ts",
  "tests/orchestration/kubernetes.test.ts",
  "tests/deploy/**/*.test.ts",
];
const exclude = [...configDefaults.exclude, ".daotrain/**", "dist/**"];

export default defineConfig({
  test: {
    setupFiles: ["tests/setup/quietTemporal.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["**/*.test.ts"],
          exclude: [...exclude, ...exclusive],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "exclusive",
          include: exclusive,
          exclude,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
