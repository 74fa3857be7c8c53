/** `pipe show RUN`: one run whole, its record, inputs, output files, metrics and log. */
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { blobPath } from "../artifacts/blobs.js"
import { seriesFile } from "../cache/records.js"
import { runJson } from "../cache/runInfo.js"
import { bytes, duration, flat, pairs, short, table, value, when } from "./format.js"
import * as O from "./options.js"
import { ref, runOf } from "./ref.js"
import { renderError } from "./render.js"

const out = (lines: ReadonlyArray<string>) => process.stdout.write(`${lines.join("\n")}\n`)

const LOG_LINES = 40

const fullLog = Options.boolean("log").pipe(Options.withDescription(`Print the whole log (default: its last ${LOG_LINES} lines)`))

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
          const pin = store.pins.of([r.id]).get(r.id)
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
            `  started   ${when(r.startedAt)}, took ${duration(r.durationMs)}${r.ranOn ? ` on ${r.ranOn}${r.jobId ? ` (job ${r.jobId})` : ""}, for ${r.host ?? "?"}` : r.host ? ` on ${r.host}` : ""}`,
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
