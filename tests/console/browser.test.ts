import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { formatUnits, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openConsole } from "../../console/server/open.ts";
import type { ConsoleServer } from "../../console/server/server.ts";
import { increaseTime } from "../../governance/localChain.ts";
import { escrowFor, getLedger, tokenBalance } from "../../governance/reads.ts";
import { execute, vote } from "../../governance/voting.ts";
import { type RunSpec, runIdOf } from "../../spec/runSpec.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { releaseWorkflowId } from "../../workflows/signals.ts";
import { daotrainWithEnv } from "../cli/inProcess.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { workflowResult } from "../orchestration/story.ts";
import {
  type Browser,
  collectPageErrors,
  launchChromium,
  screenshot,
  seriousAccessibilityViolations,
} from "./chromium.ts";

// The members' console in a real Chromium against the real local stack (anvil + the OSx DAO,
// Temporal, a worker training on local executors): review a run proposal in words, vote as two
// members from the dev wallet, execute, watch the run train, claim a reward, find the released
// checkpoint's download command. Every page is screenshotted and checked with axe-core.

/** A store key in the console's environment: no answer may ever contain it. */
const STORE_SECRET = "console-test-store-secret-0123456789abcdef";
const ROUNDS = 2;

let stack: OrchestrationStack;
let worker: RunningWorker;
let server: ConsoleServer;
let browser: Browser;
let page: Page;
let pageErrors: string[];
let spec: RunSpec;
let runId: Hex;
let proposalId: number;
const firstRender: { ms?: number } = {};

const memberKey = (index: number) => {
  const key = stack.dao.anvil.accounts[1 + index]?.privateKey;
  if (!key) throw new Error(`no member ${index}`);
  return key;
};
const memberAddress = (index: number) => stack.dao.members[index]!.wallet!.account.address;

/** `daotrain propose …` as the first member, in this process; the new proposal's id. */
async function proposeWithCli(...args: string[]): Promise<bigint> {
  const deployment = stack.processEnv.DAOTRAIN_DEPLOYMENT!;
  const proposed = await daotrainWithEnv(
    { DAOTRAIN_KEY: memberKey(0) },
    "propose",
    ...args,
    "--deployment",
    deployment,
    "--json",
  );
  expect(proposed.code, proposed.stderr).toBe(0);
  return BigInt(JSON.parse(proposed.stdout).proposalId);
}

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "alpha", gpus: 4, ownerIndex: 0 },
    { name: "beta", gpus: 4, ownerIndex: 1 },
  ]);
  worker = await startWorker(stack.env);
  await stack.startWatcher();
  // The console gets the orchestrator's whole environment, secrets included, as an operator would give it.
  server = await openConsole({ env: { ...stack.processEnv, AWS_SECRET_ACCESS_KEY: STORE_SECRET }, port: 0 });
  browser = await launchChromium("console");
  page = await browser.context.newPage();
  pageErrors = collectPageErrors(page);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await worker?.stop();
  await stack?.stop();
});

/** Connects the page's wallet as one of the dev wallet's accounts (disconnecting another first). */
async function connectAs(address: string): Promise<void> {
  const wallet = page.getByRole("region", { name: "Wallet" });
  const disconnect = wallet.getByRole("button", { name: "Disconnect" });
  if (await disconnect.isVisible()) await disconnect.click();
  const option = wallet.locator("option", { hasText: address.slice(0, 8) });
  await wallet.getByLabel("Wallet").selectOption((await option.getAttribute("value")) ?? "");
  await wallet.getByRole("button", { name: "Connect" }).click();
  await wallet.getByText("Connected:").waitFor();
}

async function checkPage(name: string): Promise<void> {
  await screenshot(browser, page, name);
  expect(await seriousAccessibilityViolations(page), `axe on ${name}`).toEqual([]);
}

const text = () => page.locator("main").innerText();

describe("the members' console in Chromium on the local stack", () => {
  test("a member opens the run proposal the CLI created and reads its escrow and spec in words", async () => {
    spec = stack.spec({ rounds: ROUNDS, replicasPerRound: 4, minReplicas: 2 });
    runId = runIdOf(spec);
    const specFile = join(stack.dir, "run-spec.json");
    await writeFile(specFile, JSON.stringify(spec));
    proposalId = Number(await proposeWithCli("run", specFile));

    await page.goto(server.url);
    await page.locator("ol.cards").waitFor();
    firstRender.ms = await page.evaluate(
      () => performance.getEntriesByName("proposals-rendered")[0]?.startTime,
    );
    process.stdout.write(`proposals page first render: ${firstRender.ms?.toFixed(0)} ms after navigation\n`);
    await checkPage("01-proposals");

    await page.getByRole("link", { name: `#${proposalId} Approve and fund run` }).click();
    await page.getByRole("heading", { name: "What executing it does" }).waitFor();
    const escrow = await escrowFor(stack.dao.operator, 36_000n, BigInt(spec.rewardPerGpuHour));
    const shown = await text();
    expect(shown).toContain(`Fund run ${spec.name}`);
    expect(shown).toContain(`Moves ${formatUnits(escrow, 18)} TRAIN from the treasury into the run's escrow`);
    expect(shown).toContain("a budget of 10 GPU-hours at 3.6 TRAIN per GPU-hour");
    expect(shown).toContain("The spec hashes to this run id");
    expect(shown).toContain(`${ROUNDS} rounds of ${spec.innerSteps} inner steps`);
    expect(shown).toContain("4 per round (at least 2), 1 GPU(s) each");
    expect(shown).toMatch(/59 min left to vote|1 h 0 min left to vote/);
    await checkPage("02-run-proposal");
  });

  test("two members vote yes from the dev wallet; a second vote and a non-member's vote are refused in one sentence", async () => {
    await connectAs(memberAddress(0));
    await page.getByRole("button", { name: "Vote yes" }).click();
    await page.getByText("Done: transaction").waitFor();

    // Later, on a reloaded page: the dev wallet reconnects the same account, as a browser wallet would.
    await page.reload();
    await page.getByText("This account already voted yes; a vote cannot be changed.").waitFor();
    expect(await page.getByRole("button", { name: "Vote yes" }).isDisabled()).toBe(true);

    await connectAs(stack.dao.others[5]!.wallet!.account.address);
    await page.getByText("This account held no voting power when the proposal was created").waitFor();

    await connectAs(memberAddress(1));
    await page.getByRole("button", { name: "Vote yes" }).click();
    await page.getByText("Done: transaction").waitFor();
    await page.getByRole("row", { name: "Yes 200 TRAIN" }).waitFor();
    await page.getByText("It cannot be executed yet: the vote ends in").waitFor();
    expect(await page.getByRole("button", { name: "Execute proposal" }).isDisabled()).toBe(true);
    await checkPage("03-voted");
  });

  test("once the vote ends the proposal is executed from the console; the run appears and its rounds fill in", async () => {
    // An hour passes on the chain.
    await increaseTime(stack.dao.members[0], stack.dao.deployment.dao.voting.minDurationSeconds);
    await page.getByText("It passed: executing runs its actions on-chain.").waitFor();
    await page.getByRole("button", { name: "Execute proposal" }).click();
    await page.getByText("Executed: its actions have run.").waitFor();

    await page.getByRole("link", { name: "Runs" }).click();
    await page.getByRole("link", { name: spec.name }).waitFor({ timeout: 60_000 });
    await checkPage("04-runs");

    await page.getByRole("link", { name: spec.name }).click();
    await page.getByText("completed (rounds)").waitFor({ timeout: 240_000 });
    await page
      .locator("table.rounds tbody tr")
      .nth(ROUNDS - 1)
      .waitFor();
    expect(await page.locator("table.rounds tbody tr").count()).toBe(ROUNDS);
    expect(await page.locator(".chart canvas").count()).toBeGreaterThan(0);
    await page.getByText(`Round ${ROUNDS}: each replica's verdict`).click();
    expect(await text()).toContain("accepted");
    await checkPage("05-run");
  });

  test("a contributor claims its reward from the console", async () => {
    const owner = stack.owners.alpha as Hex;
    const before = await getLedger(stack.dao.operator, runId, owner);
    expect(before.claimable).toBeGreaterThan(0n);
    const balance = await tokenBalance(stack.dao.operator, owner);

    await page.getByRole("link", { name: "Contributors" }).click();
    await connectAs(owner);
    const row = page
      .getByRole("row")
      .filter({ hasText: owner.slice(0, 10) })
      .filter({ hasText: spec.name });
    await row.getByRole("button", { name: "Claim" }).click();
    await row.getByText("nothing to claim").waitFor();

    const after = await getLedger(stack.dao.operator, runId, owner);
    expect(after).toEqual({ earned: before.earned, claimed: before.earned, claimable: 0n });
    expect(await tokenBalance(stack.dao.operator, owner)).toBe(balance + before.claimable);
    await checkPage("06-contributors");
  });

  test("the release proposal shows the round's root and held-out loss; once released, the checkpoint shows its download command", async () => {
    const releaseId = await proposeWithCli("release", runId, String(ROUNDS));
    await page.goto(`${server.url}#/proposals/${releaseId}`);
    await page.getByText(`Release round ${ROUNDS} of run`).waitFor();
    expect(await text()).toMatch(/Root 0x[0-9a-f]{8}…[0-9a-f]{4}, held-out loss \d+\.\d{4}/);
    // The local DAO appoints no verifier and keeps the quorum at 0, so the count reads 0 of 0.
    expect(await text()).toContain("Attestations: 0 of the 0 verifier attestations needed.");
    await checkPage("07-release-proposal");

    for (const member of stack.dao.members.slice(0, 2)) await vote(member, releaseId, "yes");
    await increaseTime(stack.dao.members[0], stack.dao.deployment.dao.voting.minDurationSeconds);
    await execute(stack.dao.members[0], releaseId);
    await workflowResult(stack.client, releaseWorkflowId(runId, ROUNDS));

    await page.getByRole("link", { name: "Checkpoints" }).click();
    await page.getByText(`daotrain download ${runId} --round ${ROUNDS}`).waitFor();
    await page.getByText("yes, to the public store").waitFor();
    expect(await text()).toContain(`cd ${runId.slice(0, 10)}-round-${ROUNDS} && sha256sum -c SHA256SUMS`);
    await checkPage("08-checkpoints");

    await page.getByRole("link", { name: "Datasets" }).click();
    await page.getByRole("cell", { name: "CC0-1.0" }).waitFor();
    expect(await text()).toMatch(/approved \d{4}-\d{2}-\d{2}/);
    await checkPage("09-datasets");

    expect(pageErrors).toEqual([]);
  });

  test("the API answers public data only: no codec key, private key or store key in any answer, and nothing but GET", async () => {
    const paths = [
      "/api/config",
      "/api/proposals",
      "/api/runs",
      `/api/runs/${runId}`,
      "/api/checkpoints",
      "/api/contributors",
      "/api/datasets",
    ];
    const answers = await Promise.all(
      paths.map(async (path) => (await fetch(new URL(path, server.url))).text()),
    );
    const everything = answers.join("\n");
    const secrets = [
      stack.processEnv.DAOTRAIN_CODEC_KEY!,
      Buffer.from(stack.processEnv.DAOTRAIN_CODEC_KEY!, "base64").toString("hex"),
      STORE_SECRET,
      ...stack.dao.anvil.accounts.map((a) => a.privateKey.slice(2)),
    ];
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/kubeconfig|client-key-data|BEGIN [A-Z ]*PRIVATE KEY/i);

    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const response = await fetch(new URL("/api/proposals", server.url), { method });
      expect(response.status).toBe(405);
      expect(await response.json()).toEqual({
        error: "The console is read-only: it answers GET requests only.",
      });
    }
    const status = async (path: string) => (await fetch(new URL(path, server.url))).status;
    expect(await status("/api/runs/not-a-run")).toBe(400);
    expect(await status(`/api/runs/0x${"0".repeat(64)}`)).toBe(404);
    expect(await status("/api/anything-else")).toBe(404);
    expect(await status("/.inputs.json")).toBe(404);
    expect(await status("/..%2f..%2fpackage.json")).toBe(404);
    const home = await fetch(server.url);
    expect(home.headers.get("content-security-policy")).toContain("script-src 'self'");
  });
});
