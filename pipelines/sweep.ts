/**
 * Sweep grids, pure: `KEY=V1,V2` arguments (and `log(a,b,n)`, `range(a,b[,step])`), keys resolved against the
 * pipeline (`STAGE.PARAM`, or a bare `PARAM` that exactly one stage has), and the cartesian product of values
 * as points, each a list of overrides. Values are typed like `--set` (YAML values: a bracketed `[1,2]` or
 * `{a: 1}` is one list or map). Grids are capped (DEFAULT_MAX_POINTS unless raised); declared sweeps are
 * checked here too, as path-addressed diagnostics, when the pipeline loads.
 */
import { Either } from "effect"
import type { Diagnostic } from "./diagnostic.js"
import { UsageError } from "./errors.js"
import { keysOf } from "./parseIssues.js"
import type { StageNode } from "./model.js"
import type { Override } from "./overrides.js"
import { DEFAULT_MAX_POINTS, expandValues, TooManyValues } from "./sweepValues.js"
import type { SweepSpec } from "./spec.js"
import { didYouMean } from "./suggest.js"
import { isDistributionText, parseDistribution } from "./sample.js"

export { DEFAULT_MAX_POINTS, expandValues, TooManyValues } from "./sweepValues.js"

export interface Axis {
  /** As written: "lr" or "train.lr". */
  readonly key: string
  readonly values: ReadonlyArray<unknown>
}

export interface ResolvedAxis {
  /** As written. */
  readonly key: string
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

/** Why a grid of `n` points is refused, and how to raise the cap (`raise(n)`: "--max-points N" or "max_points: N ..."). */
const overCap = (what: string, n: number, max: number, raise: (n: number) => string) =>
  `${what}, more than the cap of ${max} points; narrow it, or raise the cap with ${raise(n)}`

const raiseFlag = (n: number) => `--max-points ${n}`

export const parseAxis = (arg: string, max: number = DEFAULT_MAX_POINTS): Either.Either<Axis, UsageError> => {
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/s.exec(arg)
  if (!m) {
    return Either.left(
      new UsageError({ message: `${arg}: expected KEY=V1,V2,... (e.g. lr=1e-3,1e-2, train.model=mlp,cnn, lr=log(1e-4,1e-1,4))` })
    )
  }
  return axisOf(m[1]!, m[2]!, max)
}

/** KEY and its VALUES text (from the command line or a declared sweep) as an axis. */
export const axisOf = (key: string, text: string, max: number = DEFAULT_MAX_POINTS): Either.Either<Axis, UsageError> => {
  try {
    return Either.right({ key, values: expandValues(text, max) })
  } catch (e) {
    const message = e instanceof TooManyValues ? overCap(e.message, e.count, max, raiseFlag) : (e as Error).message
    return Either.left(new UsageError({ message: `${key}=${text}: ${message}` }))
  }
}

/** What resolving a key needs of a stage: its kind and its params (a checked StageNode has both). */
export type SweepStage = Pick<StageNode, "kind" | "params">

/** The param names each stage has: those it sets, and for typed kinds every param of the schema (optional ones too). */
const paramsOf = (stages: ReadonlyMap<string, SweepStage>, stage: string): Array<string> => {
  const s = stages.get(stage)
  const p = s?.params
  const set = typeof p === "object" && p !== null ? Object.keys(p) : []
  return [...new Set([...set, ...keysOf(s?.kind.params.ast)])]
}

/** A key (STAGE.PARAM or PARAM) to the stage and param it names, or why it names none (with did-you-mean). */
export const resolveKey = (
  stages: ReadonlyMap<string, SweepStage>,
  key: string
): Either.Either<{ readonly stage: string; readonly param: string }, string> => {
  const ids = [...stages.keys()]
  const dot = key.indexOf(".")
  if (dot > 0 && stages.has(key.slice(0, dot))) {
    const stage = key.slice(0, dot)
    const param = key.slice(dot + 1)
    const known = paramsOf(stages, stage)
    const kind = stages.get(stage)!.kind.kind
    // free-form params (command stages) may be new; typed kinds know all theirs
    if (!known.includes(param) && kind !== "command") {
      return Either.left(`stage ${stage} has no param '${param}'${didYouMean(param, known)}; its params: ${known.join(", ")}`)
    }
    return Either.right({ stage, param })
  }
  if (dot > 0) return Either.left(`unknown stage '${key.slice(0, dot)}'${didYouMean(key.slice(0, dot), ids)}`)
  const candidates = ids.filter((s) => paramsOf(stages, s).includes(key))
  if (candidates.length === 1) return Either.right({ stage: candidates[0]!, param: key })
  if (candidates.length > 1) {
    return Either.left(`several stages have this param; name one: ${candidates.map((s) => `${s}.${key}`).join(", ")}`)
  }
  const all = ids.flatMap((s) => paramsOf(stages, s).map((p) => `${s}.${p}`))
  return Either.left(`no stage has this param${didYouMean(key, all.map((a) => a.split(".").slice(1).join(".")))}; params: ${all.join(", ")}`)
}

export const resolveAxis = (stages: ReadonlyMap<string, SweepStage>, axis: Axis): Either.Either<ResolvedAxis, UsageError> =>
  resolveKey(stages, axis.key).pipe(
    Either.map(({ stage, param }) => ({ key: axis.key, stage, param, values: axis.values })),
    Either.mapLeft((message) => new UsageError({ message: `${axis.key}: ${message}` }))
  )

/** A second key naming a STAGE.PARAM an earlier one names ("train.lr" twice, or "lr" and "train.lr"): why that is refused. */
export const duplicateKey = (axes: ReadonlyArray<Pick<ResolvedAxis, "key" | "stage" | "param">>): { readonly index: number; readonly message: string } | undefined => {
  const seen = new Map<string, string>()
  for (const [index, a] of axes.entries()) {
    const name = `${a.stage}.${a.param}`
    const earlier = seen.get(name)
    if (earlier !== undefined) {
      const what = earlier === a.key ? `${a.key} is given twice` : `${earlier} and ${a.key} both name ${name}`
      return { index, message: `${what}; give each param once, with all its values (${name}=V1,V2,...)` }
    }
    seen.set(name, a.key)
  }
  return undefined
}

/** The number of points of a grid (the product of its axes' lengths). */
export const pointCount = (axes: ReadonlyArray<{ readonly values: ReadonlyArray<unknown> }>): number =>
  axes.reduce((n, a) => n * a.values.length, 1)

/** Refuses two keys for one param. */
export const checkKeys = (axes: ReadonlyArray<Pick<ResolvedAxis, "key" | "stage" | "param">>): Either.Either<void, UsageError> => {
  const dup = duplicateKey(axes)
  return dup ? Either.left(new UsageError({ message: dup.message })) : Either.right(undefined)
}

/** Refuses a command-line grid with two keys for one param, or with more points than `max`. */
export const checkGrid = (axes: ReadonlyArray<ResolvedAxis>, max: number): Either.Either<void, UsageError> => {
  const dup = duplicateKey(axes)
  if (dup) return Either.left(new UsageError({ message: dup.message }))
  const n = pointCount(axes)
  if (n > max) {
    const what = `the grid has ${n} points (${axes.map((a) => `${a.values.length} ${a.stage}.${a.param}`).join(" x ")})`
    return Either.left(new UsageError({ message: overCap(what, n, max, raiseFlag) }))
  }
  return Either.right(undefined)
}

/**
 * The problems of the sweeps declared in a pipeline file, addressed sweeps.NAME.grid.KEY: an empty or malformed
 * value list, a key that names no stage and param, a param given twice, and more points than the sweep's cap.
 * Keys of stages in `unchecked` (stages that did not validate) are not resolved, nor bare keys while any is.
 */
export const sweepDiagnostics = (
  sweeps: Readonly<Record<string, SweepSpec>>,
  stages: ReadonlyMap<string, SweepStage>,
  unchecked: ReadonlySet<string> = new Set()
): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  for (const [name, spec] of Object.entries(sweeps)) {
    const max = spec.max_points ?? DEFAULT_MAX_POINTS
    const raise = (n: number) => `max_points: ${n} in sweeps.${name}`
    const halving = spec.search === "asha"
    // search: asha draws its trials when trials is given, else runs over the grid's points.
    const random = spec.search === "random" || (halving && spec.trials !== undefined)
    if (spec.search === "random" && spec.trials === undefined) out.push({ path: ["sweeps", name], message: "search: random draws trials: add trials: N (e.g. trials: 24)" })
    if (!random && !halving && (spec.trials !== undefined || spec.seed !== undefined)) {
      out.push({ path: ["sweeps", name, spec.trials !== undefined ? "trials" : "seed"], at: "key", message: "trials and seed are for search: random (or asha); a grid runs every combination" })
    }
    const rungKey = (["min_epochs", "max_epochs", "eta"] as const).find((k) => spec[k] !== undefined)
    if (!halving && rungKey) out.push({ path: ["sweeps", name, rungKey], at: "key", message: `${rungKey} is for search: asha` })
    if (halving && spec.max_epochs === undefined) out.push({ path: ["sweeps", name], message: "search: asha needs max_epochs: N, the epochs of its last rung (e.g. max_epochs: 27)" })
    if (random && spec.trials !== undefined && spec.trials > max) {
      out.push({ path: ["sweeps", name, "trials"], message: `${spec.trials} trials is more than the cap of ${max} points; raise it with ${raise(spec.trials)}` })
    }
    const axes: Array<ResolvedAxis> = []
    let complete = true
    for (const [key, v] of Object.entries(spec.grid)) {
      const path = ["sweeps", name, "grid", key]
      let values: ReadonlyArray<unknown>
      if (typeof v === "string" && isDistributionText(v)) {
        if (!random) {
          out.push({ path, message: `${v.trim()} is a distribution to draw from, not a list of values: add search: random (or asha) and trials: N to sweeps.${name}, or list values` })
          complete = false
          continue
        }
        const d = parseDistribution(v, max)
        if (Either.isLeft(d)) {
          out.push({ path, message: d.left })
          complete = false
          continue
        }
        values = d.right.kind === "choice" ? d.right.values : [v]
      } else {
        try {
          values = typeof v === "string" ? expandValues(v, max) : v
        } catch (e) {
          out.push({ path, message: e instanceof TooManyValues ? overCap(e.message, e.count, max, raise) : (e as Error).message })
          complete = false
          continue
        }
      }
      if (values.length === 0) {
        out.push({ path, message: "expected at least one value, e.g. [0.001, 0.01] or \"log(1e-4,1e-1,4)\"" })
        complete = false
      }
      const dot = key.indexOf(".")
      if (dot > 0 ? unchecked.has(key.slice(0, dot)) : unchecked.size > 0) {
        complete = false
        continue
      }
      const r = resolveKey(stages, key)
      if (Either.isLeft(r)) {
        out.push({ path, at: "key", message: r.left })
        complete = false
        continue
      }
      axes.push({ key, ...r.right, values })
    }
    const dup = duplicateKey(axes)
    if (dup) {
      out.push({ path: ["sweeps", name, "grid", axes[dup.index]!.key], at: "key", message: dup.message })
      complete = false
    }
    const n = pointCount(axes)
    if (complete && !random && n > max) {
      out.push({
        path: ["sweeps", name, "grid"],
        message: overCap(`the grid has ${n} points (${axes.map((a) => `${a.values.length} ${a.key}`).join(" x ")})`, n, max, raise)
      })
    }
  }
  return out
}

/** The cartesian product, first axis slowest: [a=1,b=1], [a=1,b=2], [a=2,b=1], ... */
export const points = (axes: ReadonlyArray<ResolvedAxis>): Array<Point> => {
  let combos: Array<Array<[ResolvedAxis, unknown]>> = [[]]
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => [...c, [axis, v] as [ResolvedAxis, unknown]]))
  return combos.map((c, index) => ({
    index,
    params: Object.fromEntries(c.map(([a, v]) => [`${a.stage}.${a.param}`, v])),
    overrides: c.map(([a, v]) => ({
      stage: a.stage,
      param: a.param,
      value: v,
      text: `${a.stage}.${a.param}=${JSON.stringify(v)}`,
      from: "sweep value"
    }))
  }))
}
