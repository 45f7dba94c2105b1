import type { DefectReason, ReplicaEvidence, RoundEvidence, Verdict } from "../diloco/index.ts";

// What an audit found, and the pure comparison of a round's recorded evidence and verdicts with
// what the auditor recomputed. Two kinds of finding: a difference (`differs`: the operator's
// record or root is not what the round's inputs give — a verifier disputes it) and a gap
// (`unavailable`: the inputs in the run store are no longer those the round judged, so nothing
// can be concluded — a verifier neither attests nor disputes, and tries again later).

export type FindingKind = "differs" | "unavailable";

export interface Finding {
  kind: FindingKind;
  /** What differs, for a person: `record`, `replica 2 held-out loss`, `tensor wte`, `root`… */
  subject: string;
  /** The operator's value (the record's, or the chain's) and the auditor's, as text. */
  recorded: string;
  recomputed: string;
  message: string;
}

export const differs = (
  subject: string,
  recorded: unknown,
  recomputed: unknown,
  message: string,
): Finding => ({
  kind: "differs",
  subject,
  recorded: text(recorded),
  recomputed: text(recomputed),
  message,
});

export const unavailable = (
  subject: string,
  recorded: unknown,
  found: unknown,
  message: string,
): Finding => ({
  kind: "unavailable",
  subject,
  recorded: text(recorded),
  recomputed: text(found),
  message,
});

/** Numbers in their shortest round-trip form (what canonical JSON writes), so that near values read apart. */
function text(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? String(value);
}

/** Exactly the same binary64 (NaN is NaN; ±0 are one, as JSON keeps no sign of zero). */
export function sameNumber(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * What the run store can change under a replica without its bytes being those judged: a delivery
 * problem found now or then says nothing about the operator. The other defects (shape, non-finite)
 * are found in bytes verified against the recorded root: the same bytes, the same finding.
 */
const DELIVERY: ReadonlySet<DefectReason> = new Set([
  "unreadable",
  "oversized",
  "hash-mismatch",
  "wrong-parent",
]);

/**
 * The verdicts a record states must be those `judge` gives from the evidence it states; the first
 * replica where they part is named.
 */
export function verdictFindings(
  stated: readonly Verdict[],
  judged: readonly Verdict[],
  how: string,
): Finding[] {
  const findings: Finding[] = [];
  for (const [i, verdict] of stated.entries()) {
    const other = judged[i];
    const said = describeVerdict(verdict);
    const derived = other ? describeVerdict(other) : "none";
    if (other?.id === verdict.id && said === derived && verdict.message === other.message) continue;
    findings.push(
      differs(
        `replica ${verdict.id} verdict`,
        said,
        derived,
        said === derived
          ? `the record's verdict on replica ${verdict.id} is worded "${verdict.message}"; ${how} words it "${other?.message}"`
          : `the record says replica ${verdict.id} was ${said}; ${how} it is ${derived}`,
      ),
    );
  }
  return findings;
}

function describeVerdict(v: Verdict): string {
  return v.accepted ? "accepted" : `rejected (${v.reason})`;
}

/**
 * Compares the evidence a round's record states with the evidence the auditor measured from the
 * same inputs. A replica whose output root differs from the recorded one (or which is readable now
 * and was not then, or the reverse) changes the round's sampling seed and so every measure: that
 * is a gap, named first. Otherwise every measure must be the same bits.
 */
export function evidenceFindings(recorded: RoundEvidence, recomputed: RoundEvidence): Finding[] {
  const gaps: Finding[] = [];
  const found: Finding[] = [];
  for (const [i, was] of recorded.replicas.entries()) {
    const now = recomputed.replicas[i];
    if (!now || now.id !== was.id) {
      found.push(
        differs("replicas", was.id, now?.id ?? "none", "the audit judged other replicas than the record"),
      );
      continue;
    }
    if (was.root !== now.root) {
      gaps.push(
        unavailable(
          `replica ${was.id} output`,
          was.root ?? "unreadable",
          now.root ?? `unreadable (${"defect" in now ? now.defect.reason : "?"})`,
          `replica ${was.id}'s output in the run store is not the one the round judged (its manifest's root was ${was.root ?? "none"}, it is ${now.root ?? "none"} now): it was rewritten, removed or delivered since`,
        ),
      );
      continue;
    }
    const replica = replicaFindings(was, now);
    for (const finding of replica) (finding.kind === "unavailable" ? gaps : found).push(finding);
  }
  if (gaps.length > 0) return gaps;
  const global: Finding[] = [];
  if (!sameNumber(recorded.globalHeldOutLoss, recomputed.globalHeldOutLoss))
    global.push(
      differs(
        "global held-out loss",
        recorded.globalHeldOutLoss,
        recomputed.globalHeldOutLoss,
        "θ's held-out loss",
      ),
    );
  if (!sameNumber(recorded.globalMaxAbs, recomputed.globalMaxAbs))
    global.push(
      differs("global max |θ|", recorded.globalMaxAbs, recomputed.globalMaxAbs, "θ's largest coordinate"),
    );
  return [...global, ...found];
}

function replicaFindings(was: ReplicaEvidence, now: ReplicaEvidence): Finding[] {
  const id = was.id;
  if ("defect" in was || "defect" in now) {
    const then = "defect" in was ? was.defect.reason : "measured";
    const today = "defect" in now ? now.defect.reason : "measured";
    if (then === today) return [];
    // A delivery problem on either side means the bytes are not those judged; a content finding
    // on bytes that hash to the same root is the operator's (or the code's) alone.
    const gap =
      ("defect" in was && DELIVERY.has(was.defect.reason)) ||
      ("defect" in now && DELIVERY.has(now.defect.reason));
    const make = gap ? unavailable : differs;
    return [
      make(
        `replica ${id} reading`,
        then,
        today,
        gap
          ? `replica ${id}'s output is read as ${today} now and was ${then} when judged: its bytes changed since`
          : `replica ${id}'s output (root ${was.root}) was ${then} when judged and is ${today} read again`,
      ),
    ];
  }
  const measures: [string, number, number][] = [
    ["held-out loss", was.scores.heldOutLoss, now.scores.heldOutLoss],
    ["own-shard loss", was.scores.ownShardLoss, now.scores.ownShardLoss],
    ["θ's own-shard loss", was.scores.ownShardLossOfGlobal, now.scores.ownShardLossOfGlobal],
    ["pseudo-gradient norm", was.delta.norm, now.delta.norm],
    ["pseudo-gradient max |Δ|", was.delta.maxAbs, now.delta.maxAbs],
  ];
  const findings = measures.flatMap(([what, a, b]) =>
    sameNumber(a, b) ? [] : [differs(`replica ${id} ${what}`, a, b, `replica ${id}'s ${what}`)],
  );
  if (was.scores.ownShards.join(",") !== now.scores.ownShards.join(","))
    findings.push(
      differs(
        `replica ${id} own shards`,
        was.scores.ownShards,
        now.scores.ownShards,
        "the shards it was scored on",
      ),
    );
  const at = firstDifferentBits(was.delta.sketch, now.delta.sketch);
  if (at !== undefined)
    findings.push(
      differs(
        `replica ${id} sketch[${at}]`,
        was.delta.sketch[at] ?? "none",
        now.delta.sketch[at] ?? "none",
        `replica ${id}'s pseudo-gradient at the round's sampled coordinate ${at}`,
      ),
    );
  return findings;
}

/** The first index where two float32 arrays differ bit for bit (or in length). */
export function firstDifferentBits(a: Float32Array, b: Float32Array): number | undefined {
  const [x, y] = [
    new Uint32Array(a.buffer, a.byteOffset, a.length),
    new Uint32Array(b.buffer, b.byteOffset, b.length),
  ];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? undefined : n;
}
