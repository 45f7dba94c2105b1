import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import {
  type CheckpointManifest,
  CheckpointUnreadableError,
  CheckpointVerificationError,
  readCheckpoint,
  type Tensor,
  toFloat32,
  writeCheckpoint,
} from "../checkpoints/index.ts";
import { dtypeBytes } from "../checkpoints/tensor.ts";
import { DatasetError } from "../datasets/manifest.ts";
import { judge } from "../diloco/index.ts";
import type { Governance } from "../governance/chain.ts";
import { committedMetrics, decodeMetrics, encodeMetrics } from "../governance/metrics.ts";
import {
  type CheckpointView,
  computeCredits,
  getCheckpoint,
  getDataset,
  getRun,
} from "../governance/reads.ts";
import { initialCheckpoint } from "../model/index.ts";
import { judgeRound } from "../rounds/judge.ts";
import {
  parseRoundRecord,
  type RoundRecord,
  RoundRecordInvalidError,
  recordedEvidence,
  recordedOuter,
  recordedVerdicts,
  roundRecordHash,
  roundRecordMaxBytes,
} from "../rounds/record.ts";
import { RunStore, runStoreUriOf } from "../rounds/runStore.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import {
  DownloadError,
  ObjectNotFoundError,
  ObjectTooLargeError,
  type OpenStoreOptions,
  RunSpecUnreadableError,
  readRunSpec,
  StoreUnavailableError,
} from "../storage/index.ts";
import {
  differs,
  evidenceFindings,
  type Finding,
  sameNumber,
  unavailable,
  verdictFindings,
} from "./findings.ts";

// `daotrain audit`: redo a committed round from what the chain, its record and the run store
// hold, with the worker's own code path (rounds/judge.ts), and compare.

export const AUDIT_FORMAT = "daotrain-audit/1";

/** How `daotrain audit` ends: 0 the committed root is the round's, 10 it is not, 11 it cannot be told now. */
export const AuditExitCode = { match: 0, differs: 10, unavailable: 11 } as const;

export type AuditOutcome = keyof typeof AuditExitCode;

export interface AuditReport {
  format: typeof AUDIT_FORMAT;
  runId: Hex;
  round: number;
  outcome: AuditOutcome;
  /** What the chain holds for the round. */
  committed: { root: Hex; recordHash: Hex; manifestUri: string };
  recordUri: string;
  /** The root the audit computed, when it got that far. */
  recomputedRoot?: Hex;
  /** The first thing that differs or could not be checked (absent on a match) … */
  finding?: Finding;
  /** … and everything found, in the order it was checked (at most MAX_FINDINGS). */
  findings: Finding[];
  seconds: number;
}

const MAX_FINDINGS = 20;

export interface AuditOptions {
  governance: Governance;
  runId: Hex;
  round: number;
  /** Where staged copies and the recomputed checkpoint go (removed after, but for the dataset's). */
  workDir: string;
  /** The run store to read, when not the one the committed manifest URI is in (a mirror, another endpoint). */
  storeUri?: string;
  /** How to reach s3:// stores: the auditor's own read keys. */
  store?: OpenStoreOptions;
  onProgress?: (line: string) => void;
}

/** The round asked for has no commit on-chain. */
export class RoundNotCommittedError extends Error {
  override readonly name = "RoundNotCommittedError";
}

/**
 * Audits one committed round: reads its commit from the chain, fetches its record (checked against
 * the committed hash), checks the record against the chain and the run spec (and that its own
 * evidence gives its verdicts), then stages the parent, every replica output and the held-out
 * shards, redoes validation and the outer step, and compares the evidence, the verdicts, the root
 * (naming the first tensor that differs) and the committed metrics and credits.
 */
export async function auditRound(options: AuditOptions): Promise<AuditReport> {
  const { governance, runId, round } = options;
  const progress = options.onProgress ?? (() => {});
  const started = performance.now();
  progress(`reading the commit of run ${runId} round ${round} from the chain`);
  const committed = await getCheckpoint(governance, runId, BigInt(round));
  if (!committed.committed)
    throw new RoundNotCommittedError(
      `round ${round} of run ${runId} is not committed on-chain: nothing to audit`,
    );
  const storeUri = options.storeUri ?? runStoreUriOf(committed.manifestUri, runId, round);
  const scratch = join(
    options.workDir,
    "audits",
    `${runId.slice(2, 10)}-${round}-${randomBytes(4).toString("hex")}`,
  );
  const runStore = new RunStore(storeUri, options.workDir, options.store ?? {});
  const recordUri = runStore.store.uriOf(runStore.recordKey(runId, round, committed.recordHash));
  const report = (outcome: AuditOutcome, findings: Finding[], recomputedRoot?: Hex): AuditReport => ({
    format: AUDIT_FORMAT,
    runId,
    round,
    outcome,
    committed: { root: committed.root, recordHash: committed.recordHash, manifestUri: committed.manifestUri },
    recordUri,
    ...(recomputedRoot ? { recomputedRoot } : {}),
    ...(findings[0] ? { finding: findings[0] } : {}),
    findings: findings.slice(0, MAX_FINDINGS),
    seconds: (performance.now() - started) / 1000,
  });
  const concluded = (findings: Finding[], recomputedRoot?: Hex) =>
    report(
      findings.some((f) => f.kind === "unavailable")
        ? "unavailable"
        : findings.length > 0
          ? "differs"
          : "match",
      findings,
      recomputedRoot,
    );

  try {
    const run = await getRun(governance, runId);
    const spec = await readRunSpec(run.specUri, runId, { ...options.store, allowFile: true });
    progress(`fetching the round record ${recordUri}`);
    const record = await fetchRecord(runStore, committed, spec, runId, round);
    if ("kind" in record) return concluded([record]);

    const parent = await parentOf(governance, record, spec, scratch);
    const checked = [
      ...recordFindings(record, committed, spec, runId, round),
      ...parent.findings,
      ...verdictFindings(
        recordedVerdicts(record),
        judge(recordedEvidence(record), spec),
        "its own evidence judged",
      ),
      ...(await creditFindings(governance, record)),
    ];
    if (checked.length > 0) return concluded(checked);

    progress(
      `redoing round ${round}: staging the parent, ${record.replicas.length} replica outputs and the held-out shards`,
    );
    const judged = await judgeRound(
      runStore,
      {
        spec,
        parent: { uri: parent.uri, root: record.parent.root },
        datasetUri: (await getDataset(governance, spec.dataset)).uri,
        outputs: record.replicas,
      },
      parent.dir ? { globalDir: parent.dir } : {},
    );
    const staged = [judged.globalDir];
    try {
      const findings = [
        ...judged.outputs.flatMap((o, i) =>
          o.shards.join(",") === record.replicas[i]?.shards.join(",")
            ? []
            : [
                differs(
                  `replica ${o.replica} shards`,
                  record.replicas[i]?.shards,
                  o.shards,
                  "its assigned training shards",
                ),
              ],
        ),
        ...evidenceFindings(recordedEvidence(record), judged.step.evidence),
      ];
      if (findings.some((f) => f.kind === "unavailable")) return concluded(findings);
      findings.push(
        ...verdictFindings(recordedVerdicts(record), judged.step.verdicts, "redone, the round judges it"),
      );
      if (!judged.step.quorum) {
        findings.push(
          differs(
            "quorum",
            "a checkpoint",
            "no quorum",
            "redone, too few replicas pass for a checkpoint at all",
          ),
        );
        return concluded(findings);
      }
      progress("writing the recomputed checkpoint");
      const next = await judged.step.write(join(scratch, "next"));
      if (next.root !== committed.root) {
        progress("the roots differ: comparing the committed checkpoint's tensors with the recomputed ones");
        const committedDir = await runStore
          .localDir(committed.manifestUri, committed.root)
          .catch((error: unknown) => {
            findings.push(
              differs(
                "root",
                committed.root,
                next.root,
                `the committed checkpoint could not be read to compare: ${messageOf(error)}`,
              ),
            );
            return undefined;
          });
        if (committedDir) {
          staged.push(committedDir);
          findings.push(await tensorFinding(committedDir, join(scratch, "next"), committed.root, next.root));
        }
      }
      findings.push(...metricFindings(committed, next));
      return concluded(findings, next.root);
    } finally {
      await runStore.dropStaged(staged);
    }
  } catch (error) {
    if (inputsUnavailable(error))
      return concluded([
        unavailable(
          "inputs",
          "readable",
          "unreadable",
          `the round's inputs cannot be read: ${messageOf(error)}`,
        ),
      ]);
    throw error;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The record named by the committed hash, or why it cannot stand for the round. */
async function fetchRecord(
  runStore: RunStore,
  committed: Extract<CheckpointView, { committed: true }>,
  spec: RunSpec,
  runId: Hex,
  round: number,
): Promise<RoundRecord | Finding> {
  const key = runStore.recordKey(runId, round, committed.recordHash);
  let bytes: Uint8Array;
  try {
    bytes = await runStore.store.getBytes(key, roundRecordMaxBytes(spec));
  } catch (error) {
    if (error instanceof ObjectTooLargeError)
      return differs(
        "record",
        committed.recordHash,
        "too large",
        `the round record is larger than any this run's record can be: ${error.message}`,
      );
    if (error instanceof ObjectNotFoundError)
      return unavailable(
        "record",
        committed.recordHash,
        "missing",
        `no round record at ${runStore.store.uriOf(key)}: it was never published or was removed`,
      );
    throw error;
  }
  const hash = roundRecordHash(bytes);
  if (hash !== committed.recordHash)
    return differs(
      "record",
      committed.recordHash,
      hash,
      `the round record at ${runStore.store.uriOf(key)} does not hash to the committed record hash`,
    );
  try {
    return parseRoundRecord(bytes);
  } catch (error) {
    if (error instanceof RoundRecordInvalidError)
      return differs(
        "record",
        "a round record",
        "invalid",
        `the committed round record is not a valid daotrain-round-record/1: ${error.message}`,
      );
    throw error;
  }
}

/** Whether the record speaks of this round, its committed root, its spec's dataset and outer step. */
function recordFindings(
  record: RoundRecord,
  committed: Extract<CheckpointView, { committed: true }>,
  spec: RunSpec,
  runId: Hex,
  round: number,
): Finding[] {
  const outer = JSON.stringify(recordedOuter(spec));
  const expected: [string, unknown, unknown][] = [
    ["record run", record.runId, runId],
    ["record round", record.round, round],
    ["record root", record.root, committed.root],
    ["record manifest URI", record.manifestUri, committed.manifestUri],
    ["record dataset", record.datasetRoot, spec.dataset],
    ["record outer optimizer", JSON.stringify(record.outer), outer],
  ];
  const findings = expected.flatMap(([subject, said, truth]) =>
    said === truth
      ? []
      : [differs(subject, said, truth, `the record says ${said}; the chain and the run spec say ${truth}`)],
  );
  const replicas = record.replicas.map((r) => r.replica);
  if (new Set(replicas).size !== replicas.length || replicas.some((r) => r >= spec.replicasPerRound))
    findings.push(
      differs(
        "record replicas",
        replicas,
        `distinct, below ${spec.replicasPerRound}`,
        "the record names replicas the run does not have",
      ),
    );
  return findings;
}

/**
 * θ as the chain pins it: round − 1's committed checkpoint, or for round 1 the spec's initial
 * checkpoint, drawn again here (no chain commits it) into `scratch`.
 */
async function parentOf(
  governance: Governance,
  record: RoundRecord,
  spec: RunSpec,
  scratch: string,
): Promise<{ uri: string; dir?: string; findings: Finding[] }> {
  if (record.round === 1) {
    const dir = join(scratch, "initial");
    await mkdir(scratch, { recursive: true });
    const { tensors, fields } = initialCheckpoint(spec);
    const { root } = await writeCheckpoint(dir, tensors, fields);
    const findings =
      root === record.parent.root
        ? []
        : [
            differs(
              "parent",
              record.parent.root,
              root,
              "round 1's parent is not the initial checkpoint the spec's seed draws",
            ),
          ];
    return { uri: record.parent.uri, dir, findings };
  }
  const previous = await getCheckpoint(governance, record.runId, BigInt(record.round - 1));
  if (!previous.committed)
    return {
      uri: record.parent.uri,
      findings: [differs("parent", record.parent.root, "none", `round ${record.round - 1} is not committed`)],
    };
  const findings =
    previous.root === record.parent.root
      ? []
      : [
          differs(
            "parent",
            record.parent.root,
            previous.root,
            `the record's parent is not round ${record.round - 1}'s committed root`,
          ),
        ];
  return { uri: previous.manifestUri, findings };
}

/** Every cluster the commit credited must have had a replica the record accepts. */
async function creditFindings(governance: Governance, record: RoundRecord): Promise<Finding[]> {
  const accepted = new Set(record.replicas.filter((r) => r.verdict.accepted).map((r) => r.clusterId));
  const credits = (await computeCredits(governance, record.runId)).filter((c) => c.round === record.round);
  return credits
    .filter((c) => !accepted.has(c.clusterId))
    .map((c) =>
      differs(
        `credit to ${c.clusterId}`,
        `${c.gpuSeconds} GPU-seconds`,
        "0 GPU-seconds",
        `the commit paid cluster ${c.clusterId}, of which the record accepts no replica`,
      ),
    );
}

/** The metrics committed on-chain must be those of the recomputed checkpoint, as the worker commits them. */
function metricFindings(
  committed: Extract<CheckpointView, { committed: true }>,
  next: CheckpointManifest,
): Finding[] {
  const recomputed = decodeMetrics(encodeMetrics(committedMetrics(next.metrics)));
  const findings: Finding[] = [];
  for (const field of ["loss", "valLoss"] as const)
    if (!sameNumber(committed.metrics[field], recomputed[field]))
      findings.push(
        differs(`metrics ${field}`, committed.metrics[field], recomputed[field], `the committed ${field}`),
      );
  for (const field of ["tokens", "steps"] as const)
    if (committed.metrics[field] !== recomputed[field])
      findings.push(
        differs(`metrics ${field}`, committed.metrics[field], recomputed[field], `the committed ${field}`),
      );
  return findings;
}

/** The first tensor (in name order) whose bytes differ between the committed and the recomputed checkpoint. */
async function tensorFinding(
  committedDir: string,
  recomputedDir: string,
  root: Hex,
  recomputedRoot: Hex,
): Promise<Finding> {
  const [theirs, ours] = await Promise.all([
    readCheckpoint(committedDir, { expectedRoot: root }),
    readCheckpoint(recomputedDir),
  ]);
  const names = [...new Set([...Object.keys(theirs.tensors), ...Object.keys(ours.tensors)])].sort();
  for (const name of names) {
    const [a, b] = [theirs.tensors[name], ours.tensors[name]];
    if (!a || !b)
      return differs(
        `tensor ${name}`,
        a ? "present" : "absent",
        b ? "present" : "absent",
        `tensor ${name} is in one checkpoint only`,
      );
    if (a.dtype !== b.dtype || a.shape.join(",") !== b.shape.join(","))
      return differs(
        `tensor ${name}`,
        `${a.dtype} [${a.shape}]`,
        `${b.dtype} [${b.shape}]`,
        `tensor ${name}'s type or shape`,
      );
    if (Buffer.from(a.bytes).equals(Buffer.from(b.bytes))) continue;
    const width = dtypeBytes[a.dtype];
    let byte = 0;
    while (byte < a.bytes.length && a.bytes[byte] === b.bytes[byte]) byte++;
    const index = Math.floor(byte / width);
    const value = (t: Tensor) =>
      a.dtype === "F32" || a.dtype === "F16" || a.dtype === "BF16" ? toFloat32(t)[index] : `byte ${byte}`;
    return differs(
      `tensor ${name}[${index}]`,
      value(a),
      value(b),
      `the committed checkpoint (root ${root}) and the recomputed one (root ${recomputedRoot}) first differ in tensor ${name} at element ${index}`,
    );
  }
  return differs(
    "root",
    root,
    recomputedRoot,
    "every tensor is the same bytes, yet the roots differ: the shards are laid out otherwise",
  );
}

/** Failures that say the round's inputs cannot be read now, not that the auditor failed. */
function inputsUnavailable(error: unknown): boolean {
  return (
    error instanceof DownloadError ||
    error instanceof StoreUnavailableError ||
    error instanceof ObjectNotFoundError ||
    error instanceof RunSpecUnreadableError ||
    error instanceof CheckpointVerificationError ||
    error instanceof CheckpointUnreadableError ||
    error instanceof DatasetError
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
