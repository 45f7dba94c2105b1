import { createHash } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Address, Hex } from "viem";
import type { Governance } from "../governance/chain.ts";
import { ContractRevertError } from "../governance/errors.ts";
import { dataUri } from "../governance/metadata.ts";
import { getCheckpoint, isVerifier, verdictOf } from "../governance/reads.ts";
import { type EventCursor, pollEvents } from "../governance/watcher.ts";
import { attestRound, disputeRound } from "../governance/writes.ts";
import { canonicalJson } from "../spec/canonicalJson.ts";
import type { CheckpointStore, OpenStoreOptions } from "../storage/index.ts";
import { type AuditReport, auditRound } from "./audit.ts";
import type { VerifierMetrics } from "./metrics.ts";

// `daotrain verifier`: a process a verifier the DAO appointed runs with its own key and its own
// read access to the run store. It follows CheckpointCommitted events, audits each round, and
// attests or disputes it on-chain. The chain is its memory: `verdictOf` says which rounds it
// already judged, so a restart (even mid-audit, or between an audit and its verdict) re-audits
// what is still open and never gives a second verdict.

export interface VerifierOptions {
  /** Signs with the verifier's own key. */
  governance: Governance;
  /** Staged inputs and recomputed checkpoints (cleared after each audit), and `audits.jsonl`. */
  workDir: string;
  /** The auditor's read access to s3:// run stores. */
  store?: OpenStoreOptions;
  /** A run store other than the one the committed manifests name (a mirror, another endpoint). */
  storeUri?: string;
  /** Where a dispute's evidence (the audit's JSON) is published; inline (`data:`) when absent. */
  evidenceStore?: CheckpointStore;
  /** Blocks a commit must be buried under before it is audited. */
  confirmations: number;
  /** The first block to read commits from (the deployment's by default). */
  fromBlock?: number;
  pollSeconds: number;
  /** Wait before auditing again a round whose inputs could not be read. */
  retrySeconds: number;
  metrics: VerifierMetrics;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** One line of `<workDir>/audits.jsonl`: what the verifier concluded about a round, and what it sent. */
export interface JournalEntry {
  at: string;
  runId: Hex;
  round: number;
  outcome: AuditReport["outcome"];
  seconds: number;
  verdict?: { kind: "attested" | "disputed"; txHash: Hex; evidenceUri?: string };
  finding?: AuditReport["finding"];
}

/** The verifier's key holds no VERIFIER_PERMISSION: the DAO has not appointed it (or revoked it). */
export class NotAVerifierError extends Error {
  override readonly name = "NotAVerifierError";
}

interface Pending {
  runId: Hex;
  round: number;
  /** Epoch ms before which it is not audited again. */
  notBefore: number;
}

/** Dispute evidence inline on-chain (`data:` in the DisputeOpened event) up to this size. */
const INLINE_EVIDENCE_BYTES = 8 * 1024;

/** Runs until `signal` aborts (after the step in hand). */
export async function runVerifier(options: VerifierOptions): Promise<void> {
  const { governance, metrics, log } = options;
  const me = governance.wallet?.account.address;
  if (!me) throw new NotAVerifierError("the verifier needs a key: --keystore FILE or DAOTRAIN_KEY");
  if (!(await isVerifier(governance, me)))
    throw new NotAVerifierError(
      `${me} holds no VERIFIER_PERMISSION on the checkpoint registry: a member proposes it with \`daotrain propose verifier ${me}\` and the DAO votes`,
    );
  await mkdir(options.workDir, { recursive: true });
  let cursor: EventCursor = { nextBlock: options.fromBlock ?? governance.deployment.startBlock };
  const pending = new Map<string, Pending>();
  log(`verifier ${me}: following commits from block ${cursor.nextBlock}`);

  while (!options.signal?.aborted) {
    for (;;) {
      const page = await pollEvents(governance, { cursor, confirmations: options.confirmations });
      for (const event of page.events) {
        if (event.eventName !== "CheckpointCommitted") continue;
        const { runId, round } = event.args;
        pending.set(`${runId}/${round}`, { runId, round: Number(round), notBefore: 0 });
      }
      cursor = page.cursor;
      if (page.caughtUp) break;
    }
    metrics.pending.set(pending.size);
    for (const [key, item] of pending) {
      if (options.signal?.aborted) break;
      if (item.notBefore > Date.now()) continue;
      const settled = await settle(options, me, item).catch((error: unknown) => {
        metrics.errors.inc();
        log(
          `run ${item.runId} round ${item.round}: ${error instanceof Error ? error.message : String(error)}; trying again later`,
        );
        return false;
      });
      if (settled) pending.delete(key);
      else item.notBefore = Date.now() + options.retrySeconds * 1000;
      metrics.pending.set(pending.size);
    }
    await sleep(options.pollSeconds * 1000, undefined, { signal: options.signal }).catch(() => {});
  }
}

/**
 * Audits one committed round and gives the verdict, unless the chain says there is nothing left to
 * do. True when the round is settled for this verifier; false to try again later.
 */
async function settle(options: VerifierOptions, me: Address, item: Pending): Promise<boolean> {
  const { governance, metrics, log } = options;
  const { runId, round } = item;
  const what = `run ${runId} round ${round}`;
  const checkpoint = await getCheckpoint(governance, runId, BigInt(round));
  if (!checkpoint.committed) return true;
  if (checkpoint.released || checkpoint.dispute === "upheld") {
    log(`${what}: ${checkpoint.released ? "released" : "rejected by the DAO"} already, not audited`);
    return true;
  }
  const given = await verdictOf(governance, runId, BigInt(round), me);
  if (given !== "none") return true;
  if (!(await isVerifier(governance, me))) {
    log(`${what}: this key no longer holds VERIFIER_PERMISSION; waiting for the DAO`);
    return false;
  }

  log(`${what}: auditing`);
  const report = await auditRound({
    governance,
    runId,
    round,
    workDir: options.workDir,
    ...(options.storeUri ? { storeUri: options.storeUri } : {}),
    ...(options.store ? { store: options.store } : {}),
    onProgress: (line) => log(`${what}: ${line}`),
  });
  metrics.audits.inc({ outcome: report.outcome });
  metrics.auditDuration.observe(report.seconds);
  const journal = (verdict?: JournalEntry["verdict"]) =>
    appendJournal(options.workDir, {
      at: new Date().toISOString(),
      runId,
      round,
      outcome: report.outcome,
      seconds: report.seconds,
      ...(verdict ? { verdict } : {}),
      ...(report.finding ? { finding: report.finding } : {}),
    });
  const seconds = `${report.seconds.toFixed(1)} s`;
  switch (report.outcome) {
    case "unavailable":
      log(`${what}: cannot be audited now (${report.finding?.message}); again in ${options.retrySeconds} s`);
      await journal();
      return false;
    case "match": {
      const sent = await judged(governance, runId, round, me, () =>
        attestRound(governance, { runId, round: BigInt(round), root: checkpoint.root }),
      );
      if (sent) metrics.verdicts.inc({ verdict: "attested" });
      log(
        `${what}: the committed root is the round's (audit ${seconds}); attested${sent ? ` in ${sent}` : " already"}`,
      );
      await journal(sent ? { kind: "attested", txHash: sent } : undefined);
      return true;
    }
    case "differs": {
      const evidenceUri = await publishEvidence(options.evidenceStore, report);
      const sent = await judged(governance, runId, round, me, () =>
        disputeRound(governance, { runId, round: BigInt(round), root: checkpoint.root, evidenceUri }),
      );
      if (sent) metrics.verdicts.inc({ verdict: "disputed" });
      log(
        `${what}: ${report.finding?.subject} differs (${report.finding?.message}); disputed${sent ? ` in ${sent}` : " already"}`,
      );
      await journal(sent ? { kind: "disputed", txHash: sent, evidenceUri } : undefined);
      return true;
    }
  }
}

/**
 * Sends the verdict; a revert saying this verifier already judged the round (a verdict sent before
 * a restart, mined meanwhile) is no verdict sent now.
 */
async function judged(
  governance: Governance,
  runId: Hex,
  round: number,
  me: Address,
  send: () => Promise<{ txHash: Hex }>,
): Promise<Hex | undefined> {
  try {
    return (await send()).txHash;
  } catch (error) {
    if (
      error instanceof ContractRevertError &&
      (await verdictOf(governance, runId, BigInt(round), me)) !== "none"
    )
      return undefined;
    throw error;
  }
}

/**
 * Where the DAO reads a dispute's evidence: the audit's canonical JSON, in the evidence store
 * under its sha256 when there is one, else inline (its first findings only, past the inline bound).
 */
async function publishEvidence(store: CheckpointStore | undefined, report: AuditReport): Promise<string> {
  const bytes = Buffer.from(canonicalJson(report), "utf8");
  if (store) {
    const key = `audits/${report.runId}/${report.round}/${createHash("sha256").update(bytes).digest("hex")}.json`;
    await store.putBytes(key, bytes);
    return store.uriOf(key);
  }
  if (bytes.length <= INLINE_EVIDENCE_BYTES) return dataUri(report);
  return dataUri({ ...report, findings: report.findings.slice(0, 3) });
}

async function appendJournal(workDir: string, entry: JournalEntry): Promise<void> {
  await appendFile(join(workDir, "audits.jsonl"), `${JSON.stringify(entry)}\n`);
}

/** What the verifier concluded so far, oldest first (its `audits.jsonl`; none before its first audit). */
export async function readJournal(workDir: string): Promise<JournalEntry[]> {
  const text = await readFile(join(workDir, "audits.jsonl"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as JournalEntry);
}
