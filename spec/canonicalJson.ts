/**
 * Canonical JSON: object keys sorted by code point, no whitespace, numbers as JSON writes them.
 * Two parties that agree on a value agree on its bytes, so a hash of it can be an identity
 * (a run spec's id is the sha256 of its canonical JSON).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new TypeError(`canonicalJson: ${value} has no JSON form`);
    }
    if (value === undefined || typeof value === "function" || typeof value === "bigint") {
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
