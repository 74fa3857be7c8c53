/**
 * `pipe sweeps [SWEEP]`: the sweeps recorded in the store, newest first, each with its points and its best one;
 * or one sweep's points (a halving search's trials, with the rung each reached), best first.
 */
import { Args, Command } from "@effect/cli"
import { Effect, Option } from "effect"
import type { SweepPointInfo, SweepSummary, Sweeps } from "../cache/sweeps.js"
import { UsageError } from "../pipelines/errors.js"
import { table, value, when } from "./format.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const out = (lines: ReadonlyArray<string>) => process.stdout.write(lines.length ? `${lines.join("\n")}\n` : "")

const params = (p: Readonly<Record<string, unknown>>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(" ")

const statusText = (s: SweepSummary) =>
  Object.entries(s.statuses)
    .sort(([a], [b]) => (a === "ok" ? -1 : b === "ok" ? 1 : a < b ? -1 : 1))
    .map(([status, n]) => `${n} ${status}`)
    .join(", ") || "-"

/** A sweep as scripts see it. */
export const sweepJson = (s: SweepSummary) => ({
  id: s.id,
  pipeline: s.pipeline,
  created_at: new Date(s.createdAt).toISOString(),
  command: s.command,
  grid: s.grid,
  ...(s.search ? (({ points: _points, ...search }) => search)(s.search) : {}),
  metric: s.metric,
  goal: s.goal,
  points: s.planned,
  recorded: s.recorded,
  statuses: s.statuses,
  best: s.best && { point: s.best.point, params: s.best.params, metric: s.best.metric },
  missing_runs: s.missingRuns
})

export const sweepsTable = (sweeps: ReadonlyArray<SweepSummary>): Array<string> => {
  if (sweeps.length === 0) return ["no sweeps in this store (pipe sweep KEY=V1,V2 runs one)"]
  const gone = sweeps.some((s) => s.missingRuns > 0)
  return table(
    ["sweep", "created", "points", "status", ...(gone ? ["runs gone"] : []), "metric", "best", "best point", "command"],
    sweeps.map((s) => [
      String(s.id),
      when(s.createdAt),
      s.recorded === s.planned ? String(s.planned) : `${s.recorded}/${s.planned}`,
      statusText(s),
      ...(gone ? [s.missingRuns ? String(s.missingRuns) : ""] : []),
      s.metric ?? "-",
      s.best?.metric == null ? "-" : value(s.best.metric),
      s.best ? `#${s.best.point} ${params(s.best.params)}` : "-",
      s.command
    ])
  )
}

/** One point as scripts see it. */
const pointJson = (p: SweepPointInfo) => ({
  point: p.point,
  params: p.params,
  ...(p.rung !== undefined ? { rung: p.rung, epochs: p.epochs } : {}),
  status: p.status,
  metric: p.metric,
  runs: p.runs
})

/** One sweep's points, best first, as a table (a halving search's with the rung and epochs each trial reached). */
export const pointsTable = (s: SweepSummary, points: ReadonlyArray<SweepPointInfo>): Array<string> => {
  const halving = s.search?.search === "asha"
  const keys = [...new Set(points.flatMap((p) => Object.keys(p.params)))]
  const word = s.search ? "trial" : "point"
  const lines = [
    `sweep ${s.id} (${when(s.createdAt)}): ${s.command}`,
    `${s.recorded === s.planned ? s.planned : `${s.recorded} of ${s.planned}`} ${word}s: ${statusText(s)}` +
      (halving && s.search?.rungs ? `; rungs of ${s.search.rungs.join(", ")} epochs (eta ${s.search.eta}, ${s.search.promotion === "async" ? "asynchronous" : "synchronous"} promotion)` : "") +
      (s.metric ? `; by ${halving ? "rung reached, then " : ""}${s.metric} (${s.goal === "min" ? "lower" : "higher"} is better)` : ""),
    ""
  ]
  if (points.length === 0) return [...lines, `no ${word} of sweep ${s.id} has finished yet`]
  return [
    ...lines,
    ...table(
      [s.metric ? "rank" : word, ...(s.metric ? [word] : []), ...keys, ...(halving ? ["rung", "epochs"] : []), s.metric ?? "metric", "status"],
      points.map((p, i) => [
        String(s.metric ? i + 1 : p.point),
        ...(s.metric ? [String(p.point)] : []),
        ...keys.map((k) => (k in p.params ? value(p.params[k]) : "-")),
        ...(halving ? [String(p.rung ?? "-"), String(p.epochs ?? "-")] : []),
        p.metric === null ? "-" : value(p.metric),
        p.status
      ])
    )
  ]
}

const sweepArg = Args.integer({ name: "sweep" }).pipe(
  Args.withDescription("A sweep's number: list its points (a halving search's trials with the rung each reached), best first"),
  Args.optional
)

const one = (sweeps: Sweeps, id: number, json: boolean) =>
  Effect.gen(function* () {
    const s = sweeps.get(id)
    if (!s) {
      const d = sweeps.dropped(id)
      return yield* new UsageError({
        message: d ? `sweep ${id} was dropped by pipe gc on ${when(d.droppedAt)}; run it again: ${d.command}` : `there is no sweep ${id} in this store (pipe sweeps lists them)`
      })
    }
    const points = sweeps.ranked(s)
    if (json) out([JSON.stringify({ event: "sweep", ...sweepJson(s) }), ...points.map((p) => JSON.stringify({ event: "point", sweep: id, ...pointJson(p) }))])
    else out(pointsTable(s, points))
  })

export const sweepsCommand = Command.make("sweeps", { file: O.file, store: O.store, json: O.json, sweep: sweepArg }, (a) =>
  Effect.gen(function* () {
    yield* O.withQueries(a.file, a.store, ({ store }) =>
      Option.isSome(a.sweep)
        ? one(store.sweeps, a.sweep.value, a.json)
        : Effect.sync(() => {
            const sweeps = store.sweeps.list()
            if (a.json) out(sweeps.map((s) => JSON.stringify({ event: "sweep", ...sweepJson(s) })))
            else out(sweepsTable(sweeps))
          })
    )
  }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "List the sweeps recorded in the store, newest first: when, the command and grid, how many points finished and how, and the best " +
      "point by the sweep's metric with its params. `pipe sweeps N` lists sweep N's points best first: a halving search's trials with " +
      "the rung and epochs each reached and whether it went on to the end (ok) or was stopped. --json prints one sweep (and point) per line. " +
      "pipe report --sweep N charts a sweep."
  )
)
