/**
 * The values a sweep's KEY=VALUES text stands for: comma-separated values typed like `--set` (a bracketed `[1,2]`
 * or `{a: 1}` is one value), and the generators `log(a,b,n)` and `range(a,b[,step])`.
 */
import { Either } from "effect"
import { parseValue } from "./overrides.js"

const scalar = (text: string): unknown => {
  const value = parseValue(text)
  if (Either.isLeft(value)) throw new Error(`${value.left}; to pass it as text, quote it: ${JSON.stringify(text)}`)
  return value.right
}

/** Rounds away float noise (0.0009999999999 -> 0.001) so values print and key as written. */
export const tidy = (x: number) => Number(x.toPrecision(12))

/** The most points a grid may have unless raised (--max-points, or max_points in a declared sweep). */
export const DEFAULT_MAX_POINTS = 1000

/** A generator that would make more values than the cap allows (thrown before it allocates them). */
export class TooManyValues extends Error {
  constructor(readonly text: string, readonly count: number) {
    super(`${text} makes ${count} values`)
  }
}

const generator = (text: string, max: number): ReadonlyArray<number> | undefined => {
  const m = /^(log|range)\((.*)\)$/.exec(text.trim())
  if (!m) return undefined
  const args = m[2]!.split(",").map((a) => Number(a.trim()))
  if (args.some((a) => !Number.isFinite(a))) throw new Error(`${text}: arguments must be numbers`)
  if (m[1] === "log") {
    const [a, b, n] = args as [number, number, number]
    if (args.length !== 3 || !(a > 0) || !(b > 0) || !Number.isInteger(n) || n < 2) {
      throw new Error(`${text}: expected log(FROM, TO, COUNT) with positive FROM and TO and COUNT >= 2`)
    }
    if (n > max) throw new TooManyValues(text, n)
    return Array.from({ length: n }, (_, i) => tidy(Math.exp(Math.log(a) + ((Math.log(b) - Math.log(a)) * i) / (n - 1))))
  }
  const [a, b, step = 1] = args as [number, number, number?]
  if (args.length < 2 || args.length > 3 || step === 0) throw new Error(`${text}: expected range(FROM, TO[, STEP]) (TO excluded)`)
  const out: Array<number> = []
  for (let x = a; step > 0 ? x < b : x > b; x = tidy(x + step)) {
    if (out.length === max) throw new TooManyValues(text, Math.ceil((b - a) / step))
    out.push(x)
  }
  if (out.length === 0) throw new Error(`${text}: the range is empty`)
  return out
}

/**
 * Splits on commas outside parentheses, brackets and braces: "log(1,10,3),0.5" -> ["log(1,10,3)", "0.5"],
 * "[1,2],[3]" -> ["[1,2]", "[3]"] (each a YAML flow list: one value, as Hydra reads `x=[1,2]`).
 */
const splitTop = (text: string): Array<string> => {
  const parts: Array<string> = []
  let depth = 0
  let cur = ""
  for (const ch of text) {
    if (ch === "(" || ch === "[" || ch === "{") depth++
    if (ch === ")" || ch === "]" || ch === "}") depth--
    if (ch === "," && depth === 0) {
      parts.push(cur)
      cur = ""
    } else cur += ch
  }
  parts.push(cur)
  return parts
}

/** The values a KEY=VALUES text stands for; throws on a malformed generator, TooManyValues past `max`. */
export const expandValues = (text: string, max: number = DEFAULT_MAX_POINTS): Array<unknown> =>
  splitTop(text).flatMap((part): Array<unknown> => [...(generator(part, max) ?? [scalar(part.trim())])])

