/** `pipe lineage REF`: what produced an artifact (--up, the default) or what was built from it (--down). */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { lineage, type Lineage, type LineageEdge, type LineageNode } from "../cache/lineage.js"
import { UsageError } from "../pipelines/errors.js"
import { bytes, duration, pairs, short, when } from "./format.js"
import * as O from "./options.js"
import { ref, resolveRef } from "./ref.js"
import { renderError } from "./render.js"

const up = Options.boolean("up").pipe(Options.withDescription("Show what produced it: stages, params, inputs, sources, engine, code (default)"))
const down = Options.boolean("down").pipe(Options.withDescription("Show everything built from it"))
const depth = O.integerAtLeast("depth", 1, "Follow at most N runs deep").pipe(Options.optional)

export const runLine = (r: NonNullable<LineageNode["run"]>): string =>
  `run #${r.id} ${r.stage} [${r.kind}] ${r.status}, ${when(r.startedAt)}, ${duration(r.durationMs)}` +
  (r.ranOn ? ` on ${r.ranOn}${r.jobId ? ` (job ${r.jobId})` : ""}` : "") +
  (r.sweeps.length === 0
    ? ""
    : r.sweeps.length <= 3
      ? ` (${r.sweeps.map((s) => `sweep ${s.sweep} point ${s.point}`).join(", ")})`
      : ` (in ${r.sweeps.length} sweep points of ${new Set(r.sweeps.map((s) => s.sweep)).size} sweeps)`)

const artifactLine = (a: NonNullable<LineageNode["artifact"]>): string =>
  a.missing ? `artifact ${short(a.hash)} (no longer in the store)` : `${a.type} ${short(a.hash)} (${a.fileCount} file${a.fileCount === 1 ? "" : "s"}, ${bytes(a.size)})`

/** The graph as an indented tree from its roots; a node met again is named, not expanded again. */
export const lineageText = (g: Lineage): Array<string> => {
  const nodes = new Map(g.nodes.map((n) => [n.id, n]))
  const out: Array<string> = []
  const shown = new Set<string>()
  const into = new Map<string, Array<LineageEdge>>()
  const from = new Map<string, Array<LineageEdge>>()
  for (const e of g.edges) {
    ;(into.get(e.to) ?? into.set(e.to, []).get(e.to)!).push(e)
    ;(from.get(e.from) ?? from.set(e.from, []).get(e.from)!).push(e)
  }
  const incoming = (id: string) => into.get(id) ?? []
  const outgoing = (id: string) => from.get(id) ?? []
  const runDetails = (r: NonNullable<LineageNode["run"]>, pad: string) => {
    const rec = r.record
    if (Object.keys(rec.params as object).length) out.push(`${pad}params  ${pairs(rec.params)}`)
    if (rec.config !== null && Object.keys(rec.config as object).length) out.push(`${pad}config  ${pairs(rec.config)}`)
    if (Object.keys(rec.deps).length) out.push(`${pad}deps    ${Object.entries(rec.deps).map(([p, h]) => `${p} ${short(h)}`).join(", ")}`)
    if (rec.engine) out.push(`${pad}engine  ${pairs(rec.engine)}`)
    out.push(`${pad}code    ${rec.kind} v${rec.kindVersion}, pipe ${r.pipeVersion ?? "?"}${r.gitCommit ? `, commit ${r.gitCommit.slice(0, 12)}` : ""}`)
    if (r.metrics) out.push(`${pad}metrics ${pairs(r.metrics)}`)
  }
  const up = (id: string, pad: string) => {
    const n = nodes.get(id)!
    if (n.type === "artifact") {
      out.push(`${pad}${artifactLine(n.artifact!)}${shown.has(id) ? " (see above)" : ""}`)
      if (shown.has(id)) return
      shown.add(id)
      const files = n.artifact!.files
      if (files) for (const f of files) out.push(`${pad}  file ${f.path} sha256 ${f.blob}`)
      for (const e of incoming(id)) up(e.from, `${pad}  `)
      return
    }
    const r = n.run!
    out.push(`${pad}made by ${runLine(r)}`)
    runDetails(r, `${pad}    `)
    for (const e of incoming(id)) {
      out.push(`${pad}  input ${e.name}:`)
      up(e.from, `${pad}    `)
    }
  }
  const down = (id: string, pad: string) => {
    const n = nodes.get(id)!
    if (n.type === "artifact") {
      out.push(`${pad}${artifactLine(n.artifact!)}`)
      if (shown.has(id)) return
      shown.add(id)
      for (const e of outgoing(id)) down(e.to, `${pad}  `)
      return
    }
    const r = n.run!
    const product = outgoing(id)[0]
    const as = incoming(id).map((e) => e.name)
    out.push(pad === "" ? runLine(r) : `${pad}read${as.length ? ` as ${as.join(", ")}` : ""} by ${runLine(r)}`)
    if (Object.keys(r.record.params as object).length) out.push(`${pad}    params  ${pairs(r.record.params)}`)
    if (r.metrics) out.push(`${pad}    metrics ${pairs(r.metrics)}`)
    if (shown.has(id)) return
    shown.add(id)
    if (product) down(product.to, `${pad}  `)
  }
  for (const root of g.roots) (g.direction === "up" ? up : down)(root, "")
  return out
}

export const lineageCommand = Command.make(
  "lineage",
  { file: O.file, store: O.store, json: O.json, up, down, depth, ref },
  (a) =>
    Effect.gen(function* () {
      if (a.up && a.down) return yield* new UsageError({ message: "give --up or --down, not both" })
      const depthN = Option.getOrElse(a.depth, () => Infinity)
      yield* O.withQueries(a.file, a.store, ({ q, pipeline }) =>
        Effect.gen(function* () {
          const target = yield* resolveRef(q, a.ref, pipeline)
          const g = lineage(q, target, a.down ? "down" : "up", depthN)
          if (a.json) process.stdout.write(`${JSON.stringify({ ref: a.ref, resolved: target.via, ...g })}\n`)
          else process.stdout.write(`${[`# ${a.down ? "built from" : "lineage of"} ${target.via}`, ...lineageText(g)].join("\n")}\n`)
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Trace an artifact or run: --up (default) shows the runs, params, input artifacts, data checksums, engine and code that produced it; " +
      "--down shows every run and sweep point built from it. --json prints nodes and edges."
  )
)
