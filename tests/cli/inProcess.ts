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
