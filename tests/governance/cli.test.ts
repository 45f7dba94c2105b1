import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Anvil, startAnvil } from "../harness/anvil.ts";
import { id } from "./fixture.ts";

const run = promisify(execFile);
const cli = join(import.meta.dirname, "../../cli/main.ts");

describe("daotrain dao / propose / vote / execute / proposals against anvil", () => {
  let anvil: Anvil;
  let dir: string;
  const daotrain = async (args: string[], key?: `0x${string}`) => {
    const env = {
      ...process.env,
      DAOTRAIN_DEPLOYMENT: join(dir, "deployment.json"),
      DAOTRAIN_KEY: key ?? "",
    };
    try {
      const { stdout } = await run(process.execPath, [cli, ...args], { env });
      return { code: 0, stdout, stderr: "" };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  beforeAll(async () => {
    anvil = await startAnvil();
    dir = await mkdtemp(join(tmpdir(), "daotrain-governance-cli-"));
  });
  afterAll(async () => {
    await anvil?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("deploys a DAO, passes a dataset proposal with two of three members, and lists it as executed", async () => {
    const [deployer, a, b, c, operator] = anvil.accounts as [
      (typeof anvil.accounts)[number],
      ...typeof anvil.accounts,
    ];
    const deployed = await daotrain(
      ["dao", "deploy", "--rpc", anvil.rpcUrl, "--operator", operator!.address, "--json"].concat(
        ...[a, b, c].map((m) => ["--member", `${m!.address}=100`]),
      ),
      deployer.privateKey,
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(JSON.parse(deployed.stdout).operator).toBe(operator!.address);

    const root = id("dataset via cli");
    const proposed = await daotrain(
      ["propose", "dataset", root, "--uri", "file:///data", "--license", "CC0-1.0", "--json"],
      a!.privateKey,
    );
    expect(proposed.code, proposed.stderr).toBe(0);
    const { proposalId } = JSON.parse(proposed.stdout);
    expect(proposalId).toBe("1");
    for (const member of [a!, b!]) {
      const voted = await daotrain(["vote", proposalId, "yes"], member.privateKey);
      expect(voted.code, voted.stderr).toBe(0);
    }
    expect((await daotrain(["dao", "advance-time", "3600"])).code).toBe(0);
    const executed = await daotrain(["execute", proposalId], c!.privateKey);
    expect(executed.code, executed.stderr).toBe(0);

    const listed = await daotrain(["proposals", "--json"]);
    const proposals = JSON.parse(listed.stdout) as Array<{ id: string; state: string; title: string }>;
    expect(proposals.map((p) => [p.id, p.state])).toEqual([
      ["0", "executed"],
      ["1", "executed"],
    ]);
    expect(proposals[1]?.title).toBe(`Approve dataset ${root}`);
    const info = JSON.parse((await daotrain(["dao", "info", "--json"])).stdout);
    expect(info.proposals).toBe("2");
    expect(BigInt(info.treasury)).toBe(300n * 10n ** 18n);
  });

  it("answers a wrong command line with exit code 2 and a missing key with a message saying what to pass", async () => {
    expect((await daotrain(["vote", "1", "maybe"])).code).toBe(2);
    expect((await daotrain(["dao", "deploy", "--operator", "nope", "--member", "x=1"])).code).toBe(2);
    const keyless = await daotrain(["vote", "0", "yes"]);
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/pass --keystore FILE or set DAOTRAIN_KEY/);
  });
});
