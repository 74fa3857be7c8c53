/** `pipe diff A B`: what differs between two experiments, or between two runs. */
import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { compare } from "../cache/compare.js"
import type { ExperimentDiff } from "../cache/expDiff.js"
import { expLabel, type ExperimentInfo } from "../cache/experiments.js"
import type { RunDiff } from "../cache/runDiff.js"
import { table, value } from "./format.js"
import * as O from "./options.js"
import { asUsage, fileHashOf } from "./ref.js"
import { renderError } from "./render.js"

const out = (lines: ReadonlyArray<string>) => process.stdout.write(`${lines.join("\n")}\n`)

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
      yield* O.withQueries(a.file, a.store, ({ store, pipeline }) =>
        Effect.gen(function* () {
          const c = yield* asUsage(() => compare(store, a.a, a.b, { pipeline, fileHash: fileHashOf }))
          if (c._tag === "experiments") out(a.json ? [JSON.stringify({ event: "experiment_diff", ...c.diff })] : expDiffText(c.diff, c.a, c.b))
          else out(a.json ? [JSON.stringify(diffJson(c.diff))] : diffText(c.diff))
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(Command.withDescription(
    "Compare two experiments (pipe diff e12 e14: the stage-qualified params that differ, how every figure moved, which stages they share) " +
      "or two runs (pipe diff #12 #14: params, config, deps, inputs, engine and code, and metrics)."
  ))
