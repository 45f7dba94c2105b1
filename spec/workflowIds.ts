// Workflow ids derived from chain facts. Free of imports so that deterministic workflow code
// (which may not load node:crypto or the file system) can use the same spelling as clients.

/** Temporal workflow id of a run; deterministic so that starting a run twice is harmless. */
export function runWorkflowId(runId: string): string {
  return `run-${runId}`;
}
