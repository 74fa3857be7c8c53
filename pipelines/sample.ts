/**
 * Sampled sweeps, pure: distributions written `uniform:LOW:HIGH`, `loguniform:LOW:HIGH`, `int:LOW:HIGH` and
 * `choice:V1,V2,...` (any other value list, `0.1,0.3` or `log(1e-4,1e-1,4)`, is a choice among its values), and
 * the trials a seed draws from them. The draws are counter-based (the seed, the trial number and the param's name
 * hashed with 32-bit integer arithmetic), so the same seed gives the same trials on any machine, and adding a param
 * to the search leaves the values the others draw as they were. Drawn numbers are rounded to 6 significant digits,
 * so they print, key and compare as written.
 */
import { Either } from "effect"
import type { Point, ResolvedAxis } from "./sweep.js"
import { expandValues } from "./sweepValues.js"
import { didYouMean } from "./suggest.js"

export type Distribution =
  | { readonly kind: "uniform" | "loguniform"; readonly low: number; readonly high: number }
  | { readonly kind: "int"; readonly low: number; readonly high: number }
  | { readonly kind: "choice"; readonly values: ReadonlyArray<unknown> }

export const DISTRIBUTIONS = ["uniform", "loguniform", "int", "choice"] as const

const FORMS = "uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH or choice:V1,V2,..."

/** Whether a value text names a distribution (`NAME:...`), known or not. */
export const isDistributionText = (text: string): boolean => /^[A-Za-z_]+:/.test(text.trim())

const bounds = (name: string, rest: string): Either.Either<[number, number], string> => {
  const parts = rest.split(":")
  const nums = parts.map((p) => (p.trim() === "" ? Number.NaN : Number(p.trim())))
  if (parts.length !== 2 || nums.some((n) => !Number.isFinite(n))) {
    return Either.left(`expected ${name}:LOW:HIGH with two numbers, e.g. ${name === "int" ? "int:16:256" : `${name}:1e-4:1e-2`}`)
  }
  return Either.right(nums as [number, number])
}

/** A distribution from its text (as on the command line or in a declared sweep), or why it is not one. */
export const parseDistribution = (text: string, max?: number): Either.Either<Distribution, string> => {
  const t = text.trim()
  const m = /^([A-Za-z_]+):(.*)$/s.exec(t)
  if (!m) {
    try {
      const values = expandValues(t, max)
      return values.length > 0 ? Either.right({ kind: "choice", values }) : Either.left("expected at least one value")
    } catch (e) {
      return Either.left((e as Error).message)
    }
  }
  const name = m[1]!
  const rest = m[2]!
  if (!(DISTRIBUTIONS as ReadonlyArray<string>).includes(name)) {
    return Either.left(`unknown distribution '${name}'${didYouMean(name, [...DISTRIBUTIONS])}; distributions: ${FORMS} (a text value with a colon: quote it)`)
  }
  if (name === "choice") {
    if (rest.trim() === "") return Either.left("choice: expected at least one value, e.g. choice:64,128,256")
    try {
      return Either.right({ kind: "choice", values: expandValues(rest, max) })
    } catch (e) {
      return Either.left((e as Error).message)
    }
  }
  return bounds(name, rest).pipe(
    Either.flatMap(([low, high]): Either.Either<Distribution, string> => {
      if (!(low < high)) return Either.left(`${t}: the range is empty (LOW must be below HIGH)`)
      if (name === "loguniform" && !(low > 0)) return Either.left(`${t}: a log range must lie above 0 (LOW > 0), e.g. loguniform:1e-5:1e-1`)
      if (name === "int" && !(Number.isInteger(low) && Number.isInteger(high))) return Either.left(`${t}: int takes whole numbers, e.g. int:16:256`)
      return Either.right({ kind: name as "uniform" | "loguniform" | "int", low, high })
    })
  )
}

/** The distribution as written back (for listings and records). */
export const distributionText = (d: Distribution): string =>
  d.kind === "choice" ? `choice:${d.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(",")}` : `${d.kind}:${d.low}:${d.high}`

/** A 32-bit mix (murmur3's finaliser). */
const mix = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** FNV-1a of a text's UTF-16 code units. */
const hashText = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A uniform draw in [0, 1) with 53 bits, from (seed, trial, name) alone. */
export const draw = (seed: number, trial: number, name: string): number => {
  const k = mix(mix(seed >>> 0) ^ Math.imul(trial + 1, 0x9e3779b9) ^ hashText(name))
  const hi = mix(k ^ 0x68e31da4) >>> 5 // 27 bits
  const lo = mix(k ^ 0xb5297a4d) >>> 6 // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992
}

const round6 = (x: number) => Number(x.toPrecision(6))

/** The value of `d` at the uniform draw `u` in [0, 1). */
export const valueAt = (d: Distribution, u: number): unknown => {
  switch (d.kind) {
    case "choice":
      return d.values[Math.min(d.values.length - 1, Math.floor(u * d.values.length))]
    case "int":
      return Math.min(d.high, d.low + Math.floor(u * (d.high - d.low + 1)))
    case "uniform":
      return round6(d.low + u * (d.high - d.low))
    case "loguniform":
      return round6(Math.exp(Math.log(d.low) + u * (Math.log(d.high) - Math.log(d.low))))
  }
}

export interface SampledAxis extends Omit<ResolvedAxis, "values"> {
  readonly distribution: Distribution
}

/**
 * `trials` trials drawn with `seed`, as sweep points (numbered in draw order); a trial that repeats an earlier one
 * (a small space of choices) is left out, so `drawn` may exceed the points returned.
 */
export const sample = (axes: ReadonlyArray<SampledAxis>, trials: number, seed: number): { readonly points: Array<Point>; readonly drawn: number } => {
  const seen = new Set<string>()
  const out: Array<Point> = []
  for (let t = 0; t < trials; t++) {
    const values = axes.map((a) => [a, valueAt(a.distribution, draw(seed, t, `${a.stage}.${a.param}`))] as const)
    const params = Object.fromEntries(values.map(([a, v]) => [`${a.stage}.${a.param}`, v]))
    const id = JSON.stringify(params)
    if (seen.has(id)) continue
    seen.add(id)
    out.push({
      index: out.length,
      params,
      overrides: values.map(([a, v]) => ({ stage: a.stage, param: a.param, value: v, text: `${a.stage}.${a.param}=${JSON.stringify(v)}`, from: "sweep value" }))
    })
  }
  return { points: out, drawn: trials }
}
