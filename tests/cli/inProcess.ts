import { vi } from "vitest";
import { buildProgram } from "../../cli/daotrain.ts";
import { runProgram } from "../../cli/program.ts";

/** Runs the CLI in this process on a fresh command tree, capturing what it writes. */
export async function daotrain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await runProgram(buildProgram(), ["node", "daotrain", ...args]), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

/** The CLI in this process with `env` added to the environment (DAOTRAIN_KEY, the deployment, Temporal's settings…). */
export async function daotrainWithEnv(
  env: Record<string, string | undefined>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await daotrain(...args);
  } finally {
    process.env = saved;
  }
}
