/**
 * Pure validation: a plain object (from YAML or from TypeScript composition) to a checked Pipeline, or every
 * problem found as path-addressed Diagnostics. Checks, in order: the top level, each stage against its kind's
 * Schema (unknown keys are errors), needs that name no stage, wiring (each needed stage's artifact type must fit
 * one of the kind's input slots), the kind's own checks, cycles, and the declared sweeps (their keys name a
 * stage and one of its params, their values expand, their grids stay under the cap).
 */
import { Either, Schema } from "effect"
import type { Json } from "../artifacts/canonical.js"
import { describeInputs, describeType, type AnyStageKind } from "./kind.js"
import type { Registry } from "./kind.js"
import { detectCycle, topoOrder } from "./dag.js"
import type { Diagnostic } from "./diagnostic.js"
import type { Pipeline, StageNode } from "./model.js"
import { diagnosticsOf, show } from "./parseIssues.js"
import { configSchema, OWN_SBATCH_OPTIONS, STAGE_ID, stageSchema, TopLevel, type Resources } from "./spec.js"
import { didYouMean } from "./suggest.js"
import { resolveMetric, type MetricStage } from "./metric.js"
import { resolveKey, sweepDiagnostics } from "./sweep.js"

export type Validation = Either.Either<Pipeline, ReadonlyArray<Diagnostic>>

const decodeOptions = { errors: "all", onExcessProperty: "error" } as const

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const COMMON_KEYS = new Set(["kind", "description", "needs", "params", "resources"])

interface Decoded {
  readonly id: string
  readonly kind: AnyStageKind
  readonly description?: string
  readonly needs: ReadonlyArray<string>
  readonly config: Record<string, unknown>
  readonly params: unknown
  readonly resources?: Resources
}

const decodeStage = (id: string, raw: unknown, registry: Registry, out: Array<Diagnostic>): Decoded | undefined => {
  const at = ["stages", id]
  if (!STAGE_ID.test(id)) {
    out.push({
      path: at,
      at: "key",
      message: `invalid stage id '${id}': use letters, digits, '_' or '-', not starting with a digit`
    })
  }
  if (!isMap(raw)) {
    out.push({ path: at, message: `expected a stage (a map with at least 'kind'), got ${show(raw)}` })
    return undefined
  }
  const kindName = raw["kind"]
  const known = [...registry.keys()]
  if (kindName === undefined) {
    out.push({ path: at, message: `missing required key 'kind'; known kinds: ${known.join(", ")}` })
    return undefined
  }
  if (typeof kindName !== "string" || !registry.has(kindName)) {
    out.push({
      path: [...at, "kind"],
      message: `unknown stage kind ${typeof kindName === "string" ? `'${kindName}'` : show(kindName)}${
        typeof kindName === "string" ? didYouMean(kindName, known) : ""
      }; known kinds: ${known.join(", ")}`
    })
    return undefined
  }
  const kind = registry.get(kindName)!
  // YAML writes an empty `params:` or `needs:` as null; read that as "none".
  const input: Record<string, unknown> = { ...raw }
  if (input["params"] === null) input["params"] = {}
  if (input["needs"] === null) input["needs"] = []
  if (input["params"] === undefined) input["params"] = {}
  const result = Schema.decodeUnknownEither(stageSchema(kind), decodeOptions)(input)
  if (Either.isLeft(result)) {
    out.push(...diagnosticsOf(result.left.issue, at))
    return undefined
  }
  const v = result.right as Record<string, unknown>
  const config: Record<string, unknown> = {}
  for (const k of Object.keys(v)) if (!COMMON_KEYS.has(k)) config[k] = v[k]
  return {
    id,
    kind,
    needs: (v["needs"] as ReadonlyArray<string> | undefined) ?? [],
    config,
    params: v["params"],
    ...(v["resources"] !== undefined ? { resources: v["resources"] as Resources } : {}),
    ...(typeof v["description"] === "string" ? { description: v["description"] } : {})
  }
}

/** Assigns each needed stage to an input slot by artifact type; reports what does not fit. */
const wire = (
  stage: Decoded,
  /** undefined: not known (a stage whose kind is itself wrong), so nothing is said about it here. */
  outputOf: (id: string) => string | undefined,
  out: Array<Diagnostic>
): Record<string, string> => {
  const slots: Record<string, string> = {}
  const filled = new Map<string, number>()
  const takes = describeInputs(stage.kind.inputs)
  let unknown = false
  stage.needs.forEach((need, i) => {
    const type = outputOf(need)
    if (type === undefined) {
      unknown = true
      return
    }
    const slot = Object.entries(stage.kind.inputs).find(
      ([name, s]) => (s.type === "any" || s.type === type) && (s.many || !filled.get(name))
    )
    if (!slot) {
      out.push({
        path: ["stages", stage.id, "needs", i],
        message: `${stage.id} takes ${takes}; '${need}' produces ${describeType(type)}`
      })
      return
    }
    filled.set(slot[0], (filled.get(slot[0]) ?? 0) + 1)
    slots[need] = slot[0]
  })
  for (const [name, s] of Object.entries(stage.kind.inputs)) {
    if (!s.optional && !filled.get(name) && !unknown) {
      out.push({
        path: ["stages", stage.id, "needs"],
        message: `${stage.id} takes ${takes}; nothing in needs provides ${describeType(s.type)}`
      })
    }
  }
  return slots
}

/** Params enter keys and reach programs as JSON: anything JSON cannot say exactly is an error here. */
const notJson = (v: unknown, path: ReadonlyArray<string | number>): Array<Diagnostic> => {
  if (typeof v === "number" && !Number.isFinite(v)) return [{ path, message: `expected a finite number, got ${v}` }]
  if (typeof v === "bigint") {
    return [{ path, message: `${v} is too large to be exact (beyond 2^53); write it as a string, e.g. "${v}"` }]
  }
  if (Array.isArray(v)) return v.flatMap((x, i) => notJson(x, [...path, i]))
  if (typeof v === "object" && v !== null) {
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
      return [{ path, message: `expected a plain value (number, string, boolean, list or map), got ${v.constructor?.name ?? "an object"}` }]
    }
    return Object.entries(v).flatMap(([k, x]) => notJson(x, [...path, k]))
  }
  return []
}

const withoutKeys = (params: Json, keys: ReadonlyArray<string> | undefined): Json => {
  if (!keys?.length || typeof params !== "object" || params === null || Array.isArray(params)) return params
  return Object.fromEntries(Object.entries(params).filter(([k]) => !keys.includes(k))) as Json
}

/**
 * The declared metrics: the top-level one must name a stage and a figure it reports; a sweep's must also depend
 * on the params its grid varies (a bare FIGURE there is resolved among the stages downstream of them).
 */
const metricDiagnostics = (
  top: { readonly metric?: { readonly name: string }; readonly sweeps?: Readonly<Record<string, { readonly grid: object; readonly metric?: string }>> },
  stages: ReadonlyMap<string, MetricStage & Decoded>
): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const check = (name: string, path: Array<string>, swept?: Array<string>) => {
    const r = resolveMetric(stages, name, swept)
    if (Either.isLeft(r)) out.push({ path, message: r.left })
  }
  if (top.metric !== undefined) check(top.metric.name, ["metric", "name"])
  for (const [name, sweep] of Object.entries(top.sweeps ?? {})) {
    if (sweep.metric === undefined) continue
    const keys = Object.keys(sweep.grid).map((k) => resolveKey(stages, k))
    // A key that names nothing is reported with the grid; the metric is checked once the grid is sound.
    if (keys.some(Either.isLeft)) continue
    check(sweep.metric, ["sweeps", name, "metric"], keys.map((k) => Either.getOrThrow(k).stage))
  }
  return out
}

export const validate = (raw: unknown, registry: Registry): Validation => {
  const out: Array<Diagnostic> = []
  if (raw === null || raw === undefined) {
    return Either.left([{ path: [], message: "the file is empty; expected a map with 'name' and 'stages'" }])
  }
  if (!isMap(raw)) {
    return Either.left([{ path: [], message: `expected a map with 'name' and 'stages', got ${show(raw)}` }])
  }
  const top = Schema.decodeUnknownEither(TopLevel, decodeOptions)(raw)
  if (Either.isLeft(top)) out.push(...diagnosticsOf(top.left.issue))
  const rawStages = isMap(raw["stages"]) ? raw["stages"] : {}
  if (isMap(raw["stages"]) && Object.keys(rawStages).length === 0) {
    out.push({ path: ["stages"], message: "expected at least one stage" })
  }

  const decoded = new Map<string, Decoded>()
  for (const [id, s] of Object.entries(rawStages)) {
    const d = decodeStage(id, s, registry, out)
    if (d) decoded.set(id, d)
  }

  const ids = Object.keys(rawStages)
  // Ids are how stages see their inputs ($PIPE_IN_<ID>, upper-cased, punctuation as _): two that differ only
  // there would be indistinguishable.
  const byEnv = new Map<string, string>()
  for (const id of ids) {
    const env = id.toUpperCase().replace(/[^A-Z0-9]/g, "_")
    const other = byEnv.get(env)
    if (other !== undefined) {
      out.push({ path: ["stages", id], at: "key", message: `stage ids '${other}' and '${id}' differ only in case or punctuation; rename one` })
    } else byEnv.set(env, id)
  }
  const graph = new Map<string, ReadonlyArray<string>>()
  for (const d of decoded.values()) {
    const seen = new Set<string>()
    const valid: Array<string> = []
    d.needs.forEach((need, i) => {
      const path = ["stages", d.id, "needs", i]
      if (!Object.hasOwn(rawStages, need)) {
        out.push({ path, message: `unknown stage '${need}'${didYouMean(need, ids.filter((x) => x !== d.id))}` })
      } else if (seen.has(need)) {
        out.push({ path, message: `'${need}' is listed twice` })
      } else {
        seen.add(need)
        valid.push(need)
      }
    })
    graph.set(d.id, valid)
  }

  const cycle = detectCycle(graph)
  if (cycle) {
    const hops = cycle.slice(0, -1).map((id, i) => `${id} needs ${cycle[i + 1]}`)
    out.push({ path: ["stages", cycle[0]!, "needs"], message: `cycle: ${hops.join(", ")}` })
  }

  const nodes = new Map<string, StageNode>()
  for (const d of decoded.values()) {
    const needs = graph.get(d.id)!
    const before = out.length
    const slots = wire(
      { ...d, needs },
      // A stage with a problem of its own (a bad param) still has its kind's output type: no second problem
      // downstream for the same mistake.
      (id) => {
        const kind = decoded.get(id)?.kind ?? registry.get(String((rawStages[id] as { kind?: unknown } | undefined)?.kind))
        return kind?.output
      },
      out
    )
    for (const issue of notJson(d.params, ["stages", d.id, "params"])) out.push(issue)
    const needed = needs.flatMap((id) => {
      const n = decoded.get(id)
      return n ? [{ id, kind: n.kind.kind, output: n.kind.output, params: n.params }] : []
    })
    for (const issue of d.kind.check?.({ config: d.config, params: d.params, needs: needed }) ?? []) {
      out.push({ ...issue, path: ["stages", d.id, ...issue.path] })
    }
    if (out.length > before) continue
    nodes.set(d.id, {
      id: d.id,
      kind: d.kind,
      needs,
      slots,
      config: d.config,
      params: d.params,
      canonicalParams: withoutKeys(Schema.encodeSync(d.kind.params)(d.kind.keyParams?.(d.params) ?? d.params) as Json, d.kind.unkeyedParams),
      canonicalConfig: Schema.encodeSync(configSchema(d.kind))(d.config) as Json,
      deps: d.kind.deps?.(d.config) ?? [],
      ...(d.resources !== undefined ? { resources: d.resources } : {}),
      ...(d.description !== undefined ? { description: d.description } : {})
    })
  }

  if (Either.isRight(top) && top.right.sweeps) {
    const unchecked = new Set(ids.filter((id) => !decoded.has(id)))
    out.push(...sweepDiagnostics(top.right.sweeps, decoded, unchecked))
  }
  if (Either.isRight(top) && decoded.size === ids.length) out.push(...metricDiagnostics(top.right, decoded))
  const ex = Either.isRight(top) ? top.right.executor : undefined
  if (ex && ex.kind !== "slurm") {
    for (const k of ["partition", "sbatch"] as const) {
      if (ex[k] !== undefined) out.push({ path: ["executor", k], at: "key", message: `'${k}' is for kind slurm; this executor is ${ex.kind}` })
    }
  }
  ex?.sbatch?.forEach((opt, i) => {
    const name = opt.slice(2).split("=")[0]!
    const why = Object.hasOwn(OWN_SBATCH_OPTIONS, name) ? OWN_SBATCH_OPTIONS[name] : undefined
    if (why !== undefined) out.push({ path: ["executor", "sbatch", i], message: `--${name} is set by pipe (${why}); leave it out` })
  })
  if (ex?.kind === "local" && ex.remote !== undefined) {
    out.push({ path: ["executor", "remote"], at: "key", message: "a local executor runs stages here and needs no remote; use kind slurm or process to run through one" })
  }

  if (out.length > 0) return Either.left(out)
  const r = top.pipe(Either.getOrThrow)
  return Either.right({
    name: r.name,
    ...(r.description !== undefined ? { description: r.description } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
    ...(r.executor !== undefined ? { executor: r.executor } : {}),
    stages: nodes,
    order: topoOrder(graph),
    sweeps: r.sweeps ?? {}
  })
}
