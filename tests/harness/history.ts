import type { Payload } from "@temporalio/common";

/**
 * Every payload anywhere in a workflow history as the server stores it (inputs, results,
 * signals, heartbeats, failures): what a test decodes with the codec to search a history.
 */
export function collectPayloads(node: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(node)) for (const item of node) collectPayloads(item, found);
  else if (node && typeof node === "object") {
    const record = node as Record<string, unknown>;
    if (record.metadata && "data" in record) found.push(record as Payload);
    else for (const value of Object.values(record)) collectPayloads(value, found);
  }
  return found;
}
