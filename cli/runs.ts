/** `pipe runs`: the run history with params and metrics as columns, filtered and sorted. */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import type { Pin } from "../cache/pins.js"
import { parseCondition } from "../cache/runFilter.js"
import { runJson, type RunInfo } from "../cache/runInfo.js"
import { UsageError } from "../pipelines/errors.js"
import { duration, flat, table, value, when } from "./format.js"
import * as O from "./options.js"
import { asUsage } from "./ref.js"
import { renderError } from "./render.js"

const out = (lines: ReadonlyArray<string>) => process.stdout.write(`${lines.join("\n")}\n`)

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
export const runColumns = (runs: ReadonlyArray<RunInfo>) => {
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
  const { paramCols, metricCols, hidden } = runColumns(runs)
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
          const pins = store.pins.of(runs.map((r) => r.id))
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
