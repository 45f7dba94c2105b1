import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { AuditExitCode, type AuditOutcome } from "./audit.ts";

// The verifier's Prometheus metrics, served on its own /metrics (as the worker's are). Label values
// are closed sets: audit outcomes and the two verdicts.

export const auditOutcomes = Object.keys(AuditExitCode) as AuditOutcome[];
export const verdictKinds = ["attested", "disputed"] as const;
export type VerdictKind = (typeof verdictKinds)[number];

/** Audits take seconds on a demo model to tens of minutes on a large one. */
const auditBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export function newVerifierMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  const metrics = {
    registry,
    audits: new Counter<"outcome">({
      name: "daotrain_verifier_audits_total",
      help: "Committed rounds this verifier audited, by outcome (match, differs, unavailable)",
      labelNames: ["outcome"],
      registers,
    }),
    auditDuration: new Histogram({
      name: "daotrain_verifier_audit_duration_seconds",
      help: "Wall time of one audit: fetch the record and inputs, redo the round, compare",
      buckets: auditBuckets,
      registers,
    }),
    verdicts: new Counter<"verdict">({
      name: "daotrain_verifier_verdicts_total",
      help: "Verdicts this verifier gave on-chain: attestRound or disputeRound",
      labelNames: ["verdict"],
      registers,
    }),
    pending: new Gauge({
      name: "daotrain_verifier_pending_rounds",
      help: "Committed rounds seen and not yet judged by this verifier (audit to come or to retry)",
      registers,
    }),
    errors: new Counter({
      name: "daotrain_verifier_errors_total",
      help: "Audits or verdicts that failed on the verifier's side and will be tried again",
      registers,
    }),
  };
  for (const outcome of auditOutcomes) metrics.audits.inc({ outcome }, 0);
  for (const verdict of verdictKinds) metrics.verdicts.inc({ verdict }, 0);
  return metrics;
}

export type VerifierMetrics = ReturnType<typeof newVerifierMetrics>;
