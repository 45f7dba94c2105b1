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
