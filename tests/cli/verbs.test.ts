import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Command } from "commander";
import { afterEach, describe, expect, test, vi } from "vitest";
import { buildProgram } from "../../cli/daotrain.ts";
import { ExitCode } from "../../cli/program.ts";
import { daotrain } from "./inProcess.ts";

/** Every runnable verb, as the words a user types: ["propose", "dataset"], ["download"], … */
function verbs(command: Command, path: string[] = []): string[][] {
  const children = command.commands.filter((c) => c.name() !== "help");
  if (children.length === 0) return [path];
  return children.flatMap((c) => verbs(c, [...path, c.name()]));
}

const all = verbs(buildProgram());

describe("every daotrain verb", () => {
  afterEach(() => vi.restoreAllMocks());

  test("the tree holds the verbs of every part", () => {
    const names = all.map((v) => v.join(" "));
    for (const expected of [
      "demo",
      "up",
      "worker",
      "download",
      "cluster onboard",
      "cluster register",
      "cluster check",
      "dataset pack",
      "dao deploy",
      "propose run",
      "propose release",
      "propose verifier",
      "propose attestation-quorum",
      "propose dispute",
      "vote",
      "execute",
      "proposals",
      "run status",
      "run cancel",
      "rewards claim",
    ])
      expect(names).toContain(expected);
  });

  test.each(all.map((v) => [v.join(" "), v]))("%s --help describes it and exits 0", async (_, words) => {
    const { code, stdout } = await daotrain(...(words as string[]), "--help");
    expect(code).toBe(ExitCode.ok);
    expect(stdout).toContain(`Usage: daotrain ${(words as string[]).join(" ")}`);
  });

  test.each(
    all.map((v) => [v.join(" "), v]),
  )("%s with a wrong command line prints one line naming what is wrong and the usage, exit 2", async (_, words) => {
    const { code, stderr } = await daotrain(...(words as string[]), "--no-such-option");
    expect(code).toBe(ExitCode.usage);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    // Commander names a missing required option or argument before an unknown one.
    expect(stderr).toMatch(
      /'--no-such-option'|required option '--[a-z-]+|missing required argument '[a-z-]+'/i,
    );
    expect(stderr).toContain(`usage: daotrain ${(words as string[]).join(" ")}`);
  });

  test("an unknown verb is named with the usage, exit 2", async () => {
    const { code, stderr } = await daotrain("tarin");
    expect(code).toBe(ExitCode.usage);
    expect(stderr).toContain("tarin");
    expect(stderr).toContain("usage: daotrain");
  });
});

test("the command the bootstrap puts on PATH, as its own process, exits 2 on a wrong argument", async () => {
  const bin = fileURLToPath(new URL("../../.daotrain/bin/daotrain", import.meta.url));
  const failure = await promisify(execFile)(bin, ["download", "not-a-run-id"]).catch(
    (error: { code: number; stderr: string }) => error,
  );
  expect(failure).toMatchObject({ code: ExitCode.usage });
  expect((failure as { stderr: string }).stderr).toMatch(/runId/);
});
