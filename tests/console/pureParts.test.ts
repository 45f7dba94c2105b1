import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type BaseError,
  ChainMismatchError,
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  defineChain,
  encodeErrorResult,
  InsufficientFundsError,
  UserRejectedRequestError,
  zeroAddress,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsoleConfig } from "../../console/api.ts";
import { browserRpcUrlFor, ConsoleConfigError } from "../../console/server/open.ts";
import { manifestSummary, specSummary } from "../../console/server/publicFiles.ts";
import { explainError, TransactionRevertedError } from "../../console/web/errors.ts";
import { wagmiConfig } from "../../console/web/wallet.ts";
import { tokenVotingAbi } from "../../governance/osxAbi.ts";
import { runIdOf } from "../../spec/runSpec.ts";
import { tinySpec } from "../orchestration/fixtures.ts";

// Unit tests of the console's pure parts: what a member reads when something goes wrong, when the
// dev wallet may appear, and what the server reads from a URI a stranger chose.

const chain = defineChain({
  id: 1,
  name: "mainnet",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: ["http://127.0.0.1:1"] } },
});

/** What viem throws when simulating a vote that a contract refuses with `errorName` (or no data). */
function reverted(errorName: "VoteCastForbidden" | "ProposalExecutionForbidden" | undefined): BaseError {
  const data =
    errorName === "VoteCastForbidden"
      ? encodeErrorResult({ abi: tokenVotingAbi, errorName, args: [1n, zeroAddress, 2] })
      : errorName === "ProposalExecutionForbidden"
        ? encodeErrorResult({ abi: tokenVotingAbi, errorName, args: [1n] })
        : undefined;
  const cause = new ContractFunctionRevertedError({
    abi: tokenVotingAbi,
    functionName: "vote",
    ...(data ? { data } : {}),
  });
  return new ContractFunctionExecutionError(cause, {
    abi: tokenVotingAbi,
    functionName: "vote",
    args: [1n, 2, false],
  });
}

describe("errors a member can cause read as one sentence", () => {
  it.each([
    [
      new UserRejectedRequestError(new Error("User denied")),
      "You rejected the request in your wallet; nothing was sent.",
    ],
    [
      new ChainMismatchError({ chain, currentChainId: 5 }),
      "Your wallet is on another network than this DAO; switch networks and try again.",
    ],
    [
      new InsufficientFundsError(),
      "This account cannot pay the transaction fee: it needs some of the chain's native currency.",
    ],
    [
      reverted("VoteCastForbidden"),
      "The chain refused this (VoteCastForbidden): The voter had no voting power at the proposal's snapshot block, already voted, or the vote is closed.",
    ],
    [
      reverted("ProposalExecutionForbidden"),
      "The chain refused this (ProposalExecutionForbidden): The proposal has not passed (support, participation) or its vote is still open.",
    ],
    [reverted(undefined), "The chain refused this transaction without saying why."],
    [
      new TransactionRevertedError("0xabc"),
      "Transaction 0xabc was mined but reverted; nothing changed on-chain.",
    ],
  ])("%s", (error, sentence) => {
    const shown = explainError(error);
    expect(shown).toBe(sentence);
    expect(shown).not.toMatch(/\n|\bat .*\(/);
  });
});

describe("the dev wallet", () => {
  const config = (id: number, local: boolean): ConsoleConfig => ({
    chain: { id, rpcUrl: "http://127.0.0.1:8545", local },
    dao: { address: "0x", ensName: "x", tokenVoting: "0x", token: "0x" },
    contracts: { datasetRegistry: "0x", clusterRegistry: "0x", runRegistry: "0x", checkpointRegistry: "0x" },
    token: { symbol: "T", decimals: 18 },
    voting: {
      votingMode: "EarlyExecution",
      supportThreshold: 1,
      minParticipation: 1,
      minDurationSeconds: 3600,
    },
    devAccounts: [{ address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", label: "member" }],
    liveStatus: false,
  });
  const names = (c: ConsoleConfig) => wagmiConfig(c).connectors.map((connector) => connector.name);

  it("is offered, labelled, on a development chain id", () => {
    expect(names(config(31337, true))).toEqual(["Injected", "Dev wallet · 0x709979… (member)"]);
  });

  it("is never offered on another chain id, whatever the server says", () => {
    expect(names(config(1, true))).toEqual(["Injected"]);
    expect(names(config(31337, false))).toEqual(["Injected"]);
  });

  it("browsers see the console's RPC URL only when it is a loopback address", () => {
    expect(browserRpcUrlFor("http://127.0.0.1:8545", undefined)).toBe("http://127.0.0.1:8545");
    expect(() => browserRpcUrlFor("https://rpc.example/v2/SECRET", undefined)).toThrow(ConsoleConfigError);
    expect(browserRpcUrlFor("https://rpc.example/v2/SECRET", "https://public.example")).toBe(
      "https://public.example",
    );
  });
});

describe("files a proposal points at", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "daotrain-console-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("a spec is summarized and checked against the run id it claims", async () => {
    const spec = tinySpec();
    const file = join(dir, "spec.json");
    await writeFile(file, JSON.stringify(spec));
    const uri = pathToFileURL(file).href;
    expect(await specSummary(uri, runIdOf(spec), {})).toMatchObject({
      readable: true,
      name: "tiny",
      matchesRunId: true,
    });
    expect(await specSummary(uri, `0x${"00".repeat(32)}`, {})).toMatchObject({ matchesRunId: false });
  });

  it("what a stranger's URI names is never echoed back: not its text, not its keys", async () => {
    const secret = join(dir, "secrets.yaml");
    await writeFile(secret, "aws_secret_access_key: hunter2-very-secret\nname: 7\n");
    const shown = JSON.stringify(await specSummary(pathToFileURL(secret).href, `0x${"00".repeat(32)}`, {}));
    expect(shown).not.toContain("hunter2");
    expect(shown).not.toContain("aws_secret_access_key");
    expect(shown).toContain("not a valid run spec");
    const missing = await specSummary("file:///nonexistent/spec.json", `0x${"00".repeat(32)}`, {});
    expect(missing).toEqual({
      readable: false,
      problem: "the console cannot read a run spec of at most 65536 bytes at this URI",
    });
  });

  it("a manifest's shards are counted only when they hash to the root on-chain", async () => {
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ format: "daotrain-dataset/1" }));
    expect(await manifestSummary(pathToFileURL(dir).href, `0x${"11".repeat(32)}`, {})).toEqual({
      readable: false,
      problem: "the dataset's manifest.json is not a valid manifest",
    });
  });
});
