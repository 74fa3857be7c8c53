/** Values from YAML as pipe uses them: integers exact (bigint past 2^53, which validation rejects). */

/** bigint back to number where that is exact; larger ones stay bigint. */
export const smallInts = (v: unknown): unknown => {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  if (Array.isArray(v)) return v.map(smallInts)
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, smallInts(x)]))
  return v
}
