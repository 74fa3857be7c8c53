/** Small text formatters shared by the query commands: sizes, times, params, aligned tables. */
import { canonicalJson } from "../artifacts/canonical.js"

export const bytes = (n: number): string =>
  n < 1000 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(2)} GB`

const pad2 = (n: number) => String(n).padStart(2, "0")

/** Local time, to the second: 2026-11-28 07:40:12. */
export const when = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
}

export const duration = (ms: number | null): string =>
  ms === null ? "-" : ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`

/** A value as a person reads it: strings bare, numbers short, the rest as canonical JSON. */
export const value = (v: unknown): string =>
  typeof v === "string"
    ? v
    : typeof v === "number"
      ? Number.isInteger(v)
        ? String(v)
        : Math.abs(v) >= 1e-6 && Math.abs(v) < 1e5
          ? String(Number(v.toPrecision(4)))
          : v.toExponential(3)
      : canonicalJson(v as never)

/** Nested objects as dotted keys: { a: { b: 1 } } -> [["a.b", 1]]. */
export const flat = (v: unknown, prefix = ""): Array<[string, unknown]> => {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const entries = Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    if (entries.length === 0) return prefix ? [[prefix, {}]] : []
    return entries.flatMap(([k, x]) => flat(x, prefix ? `${prefix}.${k}` : k))
  }
  return [[prefix, v]]
}

export const pairs = (v: unknown): string =>
  flat(v)
    .map(([k, x]) => `${k}=${value(x)}`)
    .join(" ")

/** Columns padded to their widest cell; the last column is not padded. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

export const short = (hash: string | null | undefined): string => (hash ? hash.slice(0, 12) : "-")
