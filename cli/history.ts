/** `pipe runs`, `pipe show RUN`, `pipe diff A B`: the run history, one run whole, and what differs between two. */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { blobPath } from "../artifacts/blobs.js"
import { changedEntries } from "../cache/fingerprint.js"
import { pinsOf, type Pin } from "../cache/pins.js"
import { diffExperiments, expLabel, resolveExperiment, type ExperimentDiff, type ExperimentInfo } from "../cache/experiments.js"
import { parseCondition, Queries, RefError, type RunInfo } from "../cache/queries.js"
import { seriesFile } from "../cache/records.js"
import { UsageError } from "../pipelines/errors.js"
import { bytes, duration, flat, pairs, short, table, value, when } from "./format.js"
import { resolveRef, ref } from "./lineage.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const out = (lines: ReadonlyArray<string>) => process.stdout.write(`${lines.join("\n")}\n`)

const asUsage = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => new UsageError({ message: e instanceof RefError ? e.message : String(e) }) })

/** A run as scripts see it. */
export const runJson = (r: RunInfo) => ({
  id: r.id,
  key: r.key,
  pipeline: r.pipeline,
  stage: r.stage,
  kind: r.kind,
  status: r.status,
  reason: r.reason,
  started_at: new Date(r.startedAt).toISOString(),
  duration_ms: r.durationMs,
  params: r.record.params,
  engine: r.record.engine,
  inputs: r.record.inputs,
  deps: r.record.deps,
  output: r.output,
  metrics: r.metrics,
  error: r.error,
  pipe_version: r.pipeVersion,
  git_commit: r.gitCommit,
  host: r.host
})

// ---------------------------------------------------------------------------------------------------------
// pipe runs

const stageOpt = Options.text("stage").pipe(Options.withDescription("Only runs of this stage (repeatable)"), Options.repeated)
const sweepOpt = O.integerAtLeast("sweep", 1, "Only the runs of this sweep's points").pipe(Options.optional)
const statusOpt = Options.choice("status", ["ok", "failed", "interrupted", "damaged", "running"]).pipe(
  Options.withDescription("Only runs with this status (repeatable)"),
  Options.repeated
)
const whereOpt = Options.text("where").pipe(
  Options.withDescription("Filter: FIELD=VALUE, also != < <= > >= (repeatable, all must hold), e.g. params.lr=0.01, metrics.test_accuracy>=0.9"),
  Options.repeated
)
const sortOpt = Options.text("sort").pipe(
  Options.withDescription("Sort by a field, e.g. metrics.test_accuracy; a leading - sorts descending (default: newest first)"),
  Options.optional
)
const limitOpt = O.integerAtLeast("limit", 0, "Show at most N runs; 0 for all").pipe(Options.withDefault(50))
const pinnedOpt = Options.boolean("pinned").pipe(Options.withDescription("Only pinned runs (pipe pin); with --tag, only those with that tag"))
const pinTagOpt = Options.text("tag").pipe(Options.withDescription("Only runs pinned with this tag"), Options.optional)
const pipelineOpt = Options.text("pipeline").pipe(Options.withDescription("Only runs of this pipeline name (default: all in the store)"), Options.optional)

const MAX_COLUMNS = 8

/**
 * Columns: for runs of one kind, the params whose values differ between rows (all of them for a single run);
 * for mixed kinds none (filter with --stage to see them). Then numeric metrics, at most MAX_COLUMNS.
 */
const columns = (runs: ReadonlyArray<RunInfo>) => {
  const params = new Map<string, Set<string>>()
  for (const r of runs) for (const [k, v] of flat(r.record.params)) (params.get(k) ?? params.set(k, new Set()).get(k)!).add(value(v))
  const oneKind = new Set(runs.map((r) => r.kind)).size === 1
  const allParams = oneKind ? [...params].filter(([, vs]) => runs.length === 1 || vs.size > 1).map(([k]) => k) : []
  const allMetrics = [
    ...new Set(runs.flatMap((r) => Object.entries(r.metrics ?? {}).filter(([, v]) => typeof v === "number").map(([k]) => k)))
  ].filter((k) => !params.has(k))
  return {
    paramCols: allParams.slice(0, MAX_COLUMNS),
    metricCols: allMetrics.slice(0, MAX_COLUMNS),
    hidden: [...allParams.slice(MAX_COLUMNS), ...allMetrics.slice(MAX_COLUMNS)]
  }
}

/** How a run's pin reads in a table: its tags, or "pinned"; empty when it is not pinned. */
const pinText = (p: Pin | undefined): string => (p ? (p.tags.length ? p.tags.join(",") : "pinned") : "")

export const runsTable = (runs: ReadonlyArray<RunInfo>, pins: ReadonlyMap<number, Pin> = new Map()): Array<string> => {
  if (runs.length === 0) return ["no runs match"]
  const { paramCols, metricCols, hidden } = columns(runs)
  // The pin column appears when a listed run is pinned.
  const pinCol = runs.some((r) => pins.has(r.id)) ? ["pin"] : []
  const get = (r: RunInfo, k: string) => {
    const hit = flat(r.record.params).find(([p]) => p === k)
    return hit ? value(hit[1]) : ""
  }
  // Columns past MAX_COLUMNS are named, never dropped without a word.
  const note = hidden.length
    ? [`(${hidden.length} more column${hidden.length === 1 ? "" : "s"} not shown: ${hidden.join(", ")}; pipe show RUN or --json has every param and metric)`]
    : []
  return [...table(
    ["run", "stage", "status", ...pinCol, "started", "time", ...paramCols, ...metricCols],
    runs.map((r) => [
      `#${r.id}`,
      r.stage,
      r.status,
      ...pinCol.map(() => pinText(pins.get(r.id))),
      when(r.startedAt),
      duration(r.durationMs),
      ...paramCols.map((k) => get(r, k)),
      ...metricCols.map((k) => (r.metrics && k in r.metrics ? value(r.metrics[k]) : ""))
    ])
  ), ...note]
}

export const runsCommand = Command.make(
  "runs",
  { file: O.file, store: O.store, json: O.json, stage: stageOpt, sweep: sweepOpt, status: statusOpt, where: whereOpt, sort: sortOpt, limit: limitOpt, pipeline: pipelineOpt, pinned: pinnedOpt, tag: pinTagOpt },
  (a) =>
    Effect.gen(function* () {
      const where = yield* asUsage(() => a.where.map((w) => parseCondition(w)))
      yield* O.withQueries(a.file, a.store, ({ q, store }) =>
        Effect.gen(function* () {
          const sweep = Option.getOrUndefined(a.sweep)
          if (sweep !== undefined && !q.sweep(sweep)) return yield* new UsageError({ message: `there is no sweep ${sweep} in this store` })
          const runs = yield* asUsage(() =>
            q.runs({
              ...(Option.isSome(a.pipeline) ? { pipeline: a.pipeline.value } : {}),
              stages: a.stage,
              status: a.status,
              ...(sweep !== undefined ? { sweep } : {}),
              ...(Option.isSome(a.tag) ? { pinned: a.tag.value } : a.pinned ? { pinned: true } : {}),
              where,
              ...(Option.isSome(a.sort) ? { sort: a.sort.value } : {}),
              limit: a.limit
            })
          )
          const pins = pinsOf(store.db, runs.map((r) => r.id))
          if (a.json) {
            out(runs.length ? runs.map((r) => JSON.stringify({ event: "run", ...runJson(r), pinned: pins.has(r.id), tags: pins.get(r.id)?.tags ?? [] })) : [])
          } else out(runsTable(runs, pins))
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "List the run history with params and metrics as columns, newest first: filter with --stage, --sweep, --status and --where; order with --sort. --json prints one run per line."
  )
)

// ---------------------------------------------------------------------------------------------------------
// pipe show

const LOG_LINES = 40

const fullLog = Options.boolean("log").pipe(Options.withDescription(`Print the whole log (default: its last ${LOG_LINES} lines)`))

/** The run a reference names: a run, or the run that produced the artifact. */
export const runOf = (q: Queries, text: string, pipeline: string | undefined) =>
  Effect.gen(function* () {
    const t = yield* resolveRef(q, text, pipeline)
    if (t._tag === "run") return q.run(t.id)!
    if (t.hashes.length > 1) {
      return yield* new UsageError({ message: `${text} is in ${t.hashes.length} artifacts (${t.hashes.map(short).join(", ")}); give one of them` })
    }
    const producer = q.producers(t.hashes[0]!)[0]
    if (!producer) return yield* new UsageError({ message: `no recorded run produced artifact ${short(t.hashes[0])}` })
    return producer
  })

export const showCommand = Command.make(
  "show",
  { file: O.file, store: O.store, json: O.json, log: fullLog, run: ref.pipe(Args.withDescription("A run number (#12), stage id, run key or artifact hash (prefixes of 4+ hex digits)")) },
  (a) =>
    Effect.gen(function* () {
      yield* O.withQueries(a.file, a.store, ({ q, store, pipeline }) =>
        Effect.gen(function* () {
          const r = yield* runOf(q, a.run, pipeline)
          const inputs = (q.inputs(r.id).length ? q.inputs(r.id) : Object.entries(r.record.inputs).map(([name, artifact]) => ({ name, artifact }))).map(
            (i) => ({ ...i, type: q.artifact(i.artifact)?.type ?? null, producer: q.producers(i.artifact)[0]?.id ?? null })
          )
          const artifact = r.output ? q.artifact(r.output) : undefined
          const files = r.output ? q.files(r.output) : []
          const logText = r.logPath && existsSync(r.logPath) ? readFileSync(r.logPath, "utf8").replace(/\n$/, "") : ""
          const logLines = logText ? logText.split("\n") : []
          const pin = pinsOf(store.db, [r.id]).get(r.id)
          // The figures' series its stage wrote as JSON lines to $PIPE_METRICS, kept beside the log.
          const seriesPath = seriesFile(store.root, r.id)
          const series = existsSync(seriesPath)
            ? readFileSync(seriesPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>)
            : null
          if (a.json) {
            out([
              JSON.stringify({
                ...runJson(r),
                pinned: pin !== undefined,
                tags: pin?.tags ?? [],
                record: r.record,
                inputs,
                output: artifact ? { ...artifact, files: files.map((f) => ({ ...f, blob_path: blobPath(store.root, f.blob) })) } : null,
                sweeps: q.sweepPoints(r.id),
                metrics_series: series,
                log_path: r.logPath,
                log: logText
              })
            ])
            return
          }
          const lines = [
            `run #${r.id}  ${r.pipeline} / ${r.stage}  [${r.kind} v${r.record.kindVersion}]  ${r.status}`,
            `  key       ${r.key}`,
            `  started   ${when(r.startedAt)}, took ${duration(r.durationMs)}${r.host ? ` on ${r.host}` : ""}`,
            `  why       ${r.reason ?? "-"}`,
            `  code      pipe ${r.pipeVersion ?? "?"}${r.gitCommit ? `, commit ${r.gitCommit}` : ""}`
          ]
          if (pin) lines.push(`  pinned    since ${when(pin.pinnedAt)}${pin.tags.length ? `, tags ${pin.tags.join(", ")}` : ""} (pipe gc keeps it)`)
          if (r.error) lines.push(`  error     ${r.error}`)
          if (r.record.engine) lines.push(`  engine    ${pairs(r.record.engine)}`)
          lines.push("params:", ...flat(r.record.params).map(([k, v]) => `  ${k} = ${value(v)}`))
          if (r.record.config !== null && Object.keys(r.record.config as object).length) lines.push("config:", ...flat(r.record.config).map(([k, v]) => `  ${k} = ${value(v)}`))
          if (Object.keys(r.record.deps).length) lines.push("deps:", ...Object.entries(r.record.deps).map(([p, h]) => `  ${p}  ${short(h)}`))
          if (inputs.length) {
            lines.push("inputs:", ...inputs.map((i) => `  ${i.name}: ${i.type ?? "artifact"} ${short(i.artifact)}${i.producer ? ` (run #${i.producer})` : ""}`))
          }
          if (artifact) {
            lines.push(`output: ${artifact.type} ${artifact.hash} (${artifact.fileCount} files, ${bytes(artifact.size)})`)
            lines.push(...table(["  file", "size", "blob"], files.map((f) => [`  ${f.path}`, bytes(f.size), blobPath(store.root, f.blob)])))
          }
          if (r.metrics) lines.push("metrics:", ...flat(r.metrics).map(([k, v]) => `  ${k} = ${value(v)}`))
          if (series) lines.push(`metrics series: ${series.length} line${series.length === 1 ? "" : "s"} (${seriesPath}; the last is the headline)`)
          const sweeps = q.sweepPoints(r.id)
          if (sweeps.length) {
            lines.push(
              sweeps.length <= 10
                ? `sweeps: ${sweeps.map((s) => `sweep ${s.sweep} point ${s.point}`).join(", ")}`
                : `sweeps: used by ${sweeps.length} sweep points (--json lists them)`
            )
          }
          if (logLines.length) {
            const shown = a.log ? logLines : logLines.slice(-LOG_LINES)
            lines.push(`log (${r.logPath}${shown.length < logLines.length ? `, last ${shown.length} of ${logLines.length} lines; --log for all` : ""}):`)
            lines.push(...shown.map((l) => `  | ${l}`))
          }
          out(lines)
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(Command.withDescription("Print one run: its record, params, inputs, output files (with their blob paths), metrics and log."))

// ---------------------------------------------------------------------------------------------------------
// pipe diff

export interface RunDiff {
  readonly a: number
  readonly b: number
  readonly same: boolean
  readonly fields: ReadonlyArray<{ section: string; field: string; a: string | null; b: string | null }>
  readonly metrics: ReadonlyArray<{ metric: string; a: unknown; b: unknown; delta: number | null }>
}

export const diffRuns = (a: RunInfo, b: RunInfo): RunDiff => {
  const fields: Array<RunDiff["fields"][number]> = []
  const section = (name: string, x: unknown, y: unknown) => {
    for (const [field, va, vb] of changedEntries(x, y)) fields.push({ section: name, field, a: va ?? null, b: vb ?? null })
  }
  section("stage", { pipeline: a.pipeline, stage: a.stage, kind: a.kind, version: a.record.kindVersion }, {
    pipeline: b.pipeline,
    stage: b.stage,
    kind: b.kind,
    version: b.record.kindVersion
  })
  section("params", a.record.params, b.record.params)
  section("config", a.record.config, b.record.config)
  section("deps", a.record.deps, b.record.deps)
  section("inputs", a.record.inputs, b.record.inputs)
  section("engine", a.record.engine ?? {}, b.record.engine ?? {})
  section("code", { pipe: a.pipeVersion, commit: a.gitCommit }, { pipe: b.pipeVersion, commit: b.gitCommit })
  section("output", { status: a.status, output: a.output }, { status: b.status, output: b.output })
  const names = [...new Set([...Object.keys(a.metrics ?? {}), ...Object.keys(b.metrics ?? {})])].sort()
  const metrics = names
    .map((metric) => {
      const va = a.metrics?.[metric]
      const vb = b.metrics?.[metric]
      return { metric, a: va ?? null, b: vb ?? null, delta: typeof va === "number" && typeof vb === "number" ? vb - va : null }
    })
    .filter((m) => JSON.stringify(m.a) !== JSON.stringify(m.b))
  return { a: a.id, b: b.id, same: a.key === b.key, fields, metrics }
}

const shorten = (section: string, v: string | null) =>
  v === null ? "(none)" : section === "inputs" || section === "deps" || section === "output" ? v.replace(/"([0-9a-f]{12})[0-9a-f]{52}"/, "$1") : v

export const diffText = (d: RunDiff): Array<string> => {
  const lines = [`run #${d.a} -> run #${d.b}${d.same ? " (same key: identical inputs, params and engine)" : ""}`]
  if (d.fields.length === 0 && d.metrics.length === 0) return [...lines, "no differences"]
  const rows = d.fields.map((f) => [f.section, f.field, shorten(f.section, f.a), shorten(f.section, f.b)])
  if (rows.length) lines.push(...table(["what", "field", `#${d.a}`, `#${d.b}`], rows))
  if (d.metrics.length) {
    lines.push(
      ...table(
        ["metric", `#${d.a}`, `#${d.b}`, "change"],
        d.metrics.map((m) => [m.metric, m.a === null ? "-" : value(m.a), m.b === null ? "-" : value(m.b), m.delta === null ? "" : `${m.delta >= 0 ? "+" : ""}${value(m.delta)}`])
      )
    )
  }
  return lines
}

export const expDiffText = (d: ExperimentDiff, a: ExperimentInfo, b: ExperimentInfo): Array<string> => {
  const label = (e: ExperimentInfo) => `${expLabel(e.id)}${e.name ? ` (${e.name})` : ""}`
  const [ha, hb] = [expLabel(d.a), expLabel(d.b)]
  const lines = [`experiment ${label(a)} -> ${label(b)}`]
  if (d.params.length === 0 && d.metrics.length === 0 && d.runs.length === 0) return [...lines, "no differences: the same runs of every stage"]
  lines.push(d.params.length ? "params:" : "params: the same")
  if (d.params.length) lines.push(...table(["  param", ha, hb], d.params.map((p) => [`  ${p.key}`, p.a === null ? "-" : value(p.a), p.b === null ? "-" : value(p.b)])))
  if (d.metrics.length) {
    // Accuracies, then losses, then the rest (counts, timings).
    const rank = (k: string) => (/accuracy/.test(k) ? 0 : /loss/.test(k) ? 1 : 2)
    lines.push(
      "metrics:",
      ...table(
        ["  metric", ha, hb, "change"],
        [...d.metrics].sort((x, y) => rank(x.key) - rank(y.key)).map((m) => [`  ${m.key}`, m.a === null ? "-" : value(m.a), m.b === null ? "-" : value(m.b), m.delta === null ? "" : `${m.delta >= 0 ? "+" : ""}${value(m.delta)}`])
      )
    )
  } else lines.push("metrics: the same")
  if (d.runs.length) lines.push("runs that differ:", ...table(["  stage", ha, hb], d.runs.map((r) => [`  ${r.stage}`, r.a === null ? "-" : `#${r.a}`, r.b === null ? "-" : `#${r.b}`])))
  if (d.shared.length) lines.push(`shared (the same run): ${d.shared.join(", ")}`)
  return lines
}

/** The diff for scripts: field values as the JSON values they are, not as their canonical text. */
const diffJson = (d: RunDiff) => ({
  ...d,
  fields: d.fields.map((f) => ({ ...f, a: f.a === null ? null : JSON.parse(f.a), b: f.b === null ? null : JSON.parse(f.b) }))
})

export const diffCommand = Command.make(
  "diff",
  {
    file: O.file,
    store: O.store,
    json: O.json,
    a: Args.text({ name: "a" }).pipe(Args.withDescription("An experiment (e12, a name or tag) or a run (number, stage id, run key or artifact hash)")),
    b: Args.text({ name: "b" }).pipe(Args.withDescription("The experiment or run to compare it with"))
  },
  (a) =>
    Effect.gen(function* () {
      yield* O.withQueries(a.file, a.store, ({ q, store, pipeline }) =>
        Effect.gen(function* () {
          // e12, or a name or tag that names no run: an experiment.
          const asExp = (text: string) =>
            Effect.gen(function* () {
              if (/^e\d+$/.test(text)) return resolveExperiment(store.db, text) ?? (yield* new UsageError({ message: `there is no experiment ${text} in this store (pipe exps lists them)` }))
              const run = yield* Effect.either(runOf(q, text, pipeline))
              if (run._tag === "Right") return undefined
              return resolveExperiment(store.db, text, pipeline) ?? resolveExperiment(store.db, text) ?? (yield* run.left)
            })
          const [ea, eb] = [yield* asExp(a.a), yield* asExp(a.b)]
          if (ea && eb) {
            const d = diffExperiments(ea, eb)
            return out(a.json ? [JSON.stringify({ event: "experiment_diff", ...d })] : expDiffText(d, ea, eb))
          }
          if (ea || eb) {
            return yield* new UsageError({ message: `${ea ? a.a : a.b} is an experiment and ${ea ? a.b : a.a} a run: compare two experiments (e12 e14) or two runs (#12 #14)` })
          }
          const d = diffRuns(yield* runOf(q, a.a, pipeline), yield* runOf(q, a.b, pipeline))
          out(a.json ? [JSON.stringify(diffJson(d))] : diffText(d))
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(Command.withDescription(
    "Compare two experiments (pipe diff e12 e14: the stage-qualified params that differ, how every figure moved, which stages they share) " +
      "or two runs (pipe diff #12 #14: params, config, deps, inputs, engine and code, and metrics)."
  ))
