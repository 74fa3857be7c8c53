/**
 * Canonical JSON: the one serialisation that cache keys and artifact hashes are computed over.
 * Object keys are sorted at every depth and no whitespace is emitted, so two records that are equal as
 * values always give the same bytes. Non-JSON values (undefined in arrays, NaN, functions) are rejected
 * rather than silently dropped, because a value that cannot round-trip must not enter a key.
 */
import { createHash } from "node:crypto"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

export const canonicalJson = (value: unknown): string => {
  if (value === null) return "null"
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`cannot canonicalise non-finite number ${value}`)
      return JSON.stringify(value)
    case "string":
      return JSON.stringify(value)
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`cannot canonicalise a ${(value as object).constructor?.name ?? "non-plain object"}`)
      }
      const obj = value as Record<string, unknown>
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`
    }
    default:
      throw new TypeError(`cannot canonicalise a value of type ${typeof value}`)
  }
}

export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex")
