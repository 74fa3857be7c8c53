/**
 * Sweep grids, pure: `KEY=V1,V2` arguments (and `log(a,b,n)`, `range(a,b[,step])`), keys resolved against the
 * pipeline (`STAGE.PARAM`, or a bare `PARAM` that exactly one stage has), and the cartesian product of values
 * as points, each a list of overrides. Values are typed like `--set` (YAML scalars).
 */
import { Either } from "effect"
import { UsageError } from "./errors.js"
import { keysOf } from "./parseIssues.js"
import type { Pipeline } from "./model.js"
import { parseValue, type Override } from "./overrides.js"
import { didYouMean } from "./suggest.js"

export interface Axis {
  /** As written: "lr" or "train.lr". */
  readonly key: string
  readonly values: ReadonlyArray<unknown>
}

export interface ResolvedAxis {
  readonly stage: string
  readonly param: string
  readonly values: ReadonlyArray<unknown>
}

export interface Point {
  readonly index: number
  /** "train.lr" -> value, for the axes of the grid. */
  readonly params: Readonly<Record<string, unknown>>
  readonly overrides: ReadonlyArray<Override>
}

const scalar = (text: string): unknown => {
  const value = parseValue(text)
  if (Either.isLeft(value)) throw new Error(`${value.left}; to pass it as text, quote it: ${JSON.stringify(text)}`)
  return value.right
}

/** Rounds away float noise (0.0009999999999 -> 0.001) so values print and key as written. */
const tidy = (x: number) => Number(x.toPrecision(12))

const generator = (text: string): ReadonlyArray<number> | undefined => {
  const m = /^(log|range)\((.*)\)$/.exec(text.trim())
  if (!m) return undefined
  const args = m[2]!.split(",").map((a) => Number(a.trim()))
  if (args.some((a) => !Number.isFinite(a))) throw new Error(`${text}: arguments must be numbers`)
  if (m[1] === "log") {
    const [a, b, n] = args as [number, number, number]
    if (args.length !== 3 || !(a > 0) || !(b > 0) || !Number.isInteger(n) || n < 2) {
      throw new Error(`${text}: expected log(FROM, TO, COUNT) with positive FROM and TO and COUNT >= 2`)
    }
    return Array.from({ length: n }, (_, i) => tidy(Math.exp(Math.log(a) + ((Math.log(b) - Math.log(a)) * i) / (n - 1))))
  }
  const [a, b, step = 1] = args as [number, number, number?]
  if (args.length < 2 || args.length > 3 || step === 0) throw new Error(`${text}: expected range(FROM, TO[, STEP]) (TO excluded)`)
  const out: Array<number> = []
  for (let x = a; step > 0 ? x < b : x > b; x = tidy(x + step)) out.push(x)
  if (out.length === 0) throw new Error(`${text}: the range is empty`)
  return out
}

/** Splits on commas outside parentheses: "log(1,10,3),0.5" -> ["log(1,10,3)", "0.5"]. */
const splitTop = (text: string): Array<string> => {
  const parts: Array<string> = []
  let depth = 0
  let cur = ""
  for (const ch of text) {
    if (ch === "(") depth++
    if (ch === ")") depth--
    if (ch === "," && depth === 0) {
      parts.push(cur)
      cur = ""
    } else cur += ch
  }
  parts.push(cur)
  return parts
}

export const expandValues = (text: string): Array<unknown> =>
  splitTop(text).flatMap((part): Array<unknown> => [...(generator(part) ?? [scalar(part.trim())])])

export const parseAxis = (arg: string): Either.Either<Axis, UsageError> => {
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/s.exec(arg)
  if (!m) {
    return Either.left(
      new UsageError({ message: `${arg}: expected KEY=V1,V2,... (e.g. lr=1e-3,1e-2, train.model=mlp,cnn, lr=log(1e-4,1e-1,4))` })
    )
  }
  try {
    return Either.right({ key: m[1]!, values: expandValues(m[2]!) })
  } catch (e) {
    return Either.left(new UsageError({ message: `${m[1]}=${m[2]}: ${(e as Error).message}` }))
  }
}

/** The param names each stage has: those it sets, and for typed kinds every param of the schema (optional ones too). */
const paramsOf = (pipeline: Pipeline, stage: string): Array<string> => {
  const s = pipeline.stages.get(stage)
  const p = s?.params
  const set = typeof p === "object" && p !== null ? Object.keys(p) : []
  return [...new Set([...set, ...keysOf(s?.kind.params.ast)])]
}

export const resolveAxis = (pipeline: Pipeline, axis: Axis): Either.Either<ResolvedAxis, UsageError> => {
  const stages = [...pipeline.stages.keys()]
  const dot = axis.key.indexOf(".")
  const fail = (message: string) => Either.left(new UsageError({ message: `${axis.key}: ${message}` }))
  if (dot > 0 && pipeline.stages.has(axis.key.slice(0, dot))) {
    const stage = axis.key.slice(0, dot)
    const param = axis.key.slice(dot + 1)
    const known = paramsOf(pipeline, stage)
    const kind = pipeline.stages.get(stage)!.kind.kind
    // free-form params (command stages) may be new; typed kinds know all theirs
    if (!known.includes(param) && kind !== "command") {
      return fail(`stage ${stage} has no param '${param}'${didYouMean(param, known)}; its params: ${known.join(", ")}`)
    }
    return Either.right({ stage, param, values: axis.values })
  }
  if (dot > 0) return fail(`unknown stage '${axis.key.slice(0, dot)}'${didYouMean(axis.key.slice(0, dot), stages)}`)
  const candidates = stages.filter((s) => paramsOf(pipeline, s).includes(axis.key))
  if (candidates.length === 1) return Either.right({ stage: candidates[0]!, param: axis.key, values: axis.values })
  if (candidates.length > 1) {
    return fail(`several stages have this param; name one: ${candidates.map((s) => `${s}.${axis.key}`).join(", ")}`)
  }
  const all = stages.flatMap((s) => paramsOf(pipeline, s).map((p) => `${s}.${p}`))
  return fail(`no stage has this param${didYouMean(axis.key, all.map((a) => a.split(".").slice(1).join(".")))}; params: ${all.join(", ")}`)
}

/** The cartesian product, first axis slowest: [a=1,b=1], [a=1,b=2], [a=2,b=1], ... */
export const points = (axes: ReadonlyArray<ResolvedAxis>): Array<Point> => {
  let combos: Array<Array<[ResolvedAxis, unknown]>> = [[]]
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => [...c, [axis, v] as [ResolvedAxis, unknown]]))
  return combos.map((c, index) => ({
    index,
    params: Object.fromEntries(c.map(([a, v]) => [`${a.stage}.${a.param}`, v])),
    overrides: c.map(([a, v]) => ({ stage: a.stage, param: a.param, value: v, text: `${a.stage}.${a.param}=${JSON.stringify(v)}` }))
  }))
}
