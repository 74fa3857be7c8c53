/** `pipe sweeps`: the sweeps recorded in the store, newest first, each with its points and its best one. */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import type { SweepSummary } from "../cache/sweeps.js"
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

export const sweepsCommand = Command.make("sweeps", { file: O.file, store: O.store, json: O.json }, (a) =>
  Effect.gen(function* () {
    yield* O.withQueries(a.file, a.store, ({ store }) =>
      Effect.sync(() => {
        const sweeps = store.sweeps.list()
        if (a.json) out(sweeps.map((s) => JSON.stringify({ event: "sweep", ...sweepJson(s) })))
        else out(sweepsTable(sweeps))
      })
    )
  }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "List the sweeps recorded in the store, newest first: when, the command and grid, how many points finished and how, and the best " +
      "point by the sweep's metric with its params. --json prints one sweep per line. pipe report --sweep N compares a sweep's models."
  )
)
