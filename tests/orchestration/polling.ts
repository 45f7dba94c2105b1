import type { Payload } from "@temporalio/common";

/**
 * Polls `check` until it gives a value (true, or anything but undefined and false), which it
 * returns; a check that throws counts as not yet. Fails after `timeoutMs`.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every payload anywhere in a workflow history (inputs, results, signals, heartbeats, failures). */
export function collectPayloads(node: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(node)) for (const item of node) collectPayloads(item, found);
  else if (node && typeof node === "object") {
    const record = node as Record<string, unknown>;
    if (record.metadata && "data" in record) found.push(record as Payload);
    else for (const value of Object.values(record)) collectPayloads(value, found);
  }
  return found;
}
