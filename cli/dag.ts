/** `pipe dag`: the stage graph as text, Mermaid or Graphviz dot. */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import type { Pipeline } from "../pipelines/model.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const format = Options.choice("format", ["text", "mermaid", "dot"]).pipe(
  Options.withDescription("Output format"),
  Options.withDefault("text" as const)
)

const quote = (s: string) => JSON.stringify(s)

export const renderDag = (p: Pipeline, fmt: "text" | "mermaid" | "dot"): string => {
  const stages = p.order.map((id) => p.stages.get(id)!)
  switch (fmt) {
    case "text": {
      const width = Math.max(...stages.map((s) => s.id.length))
      return [
        `${p.name}: ${stages.length} stage${stages.length === 1 ? "" : "s"}, in run order`,
        ...stages.map(
          (s) => `  ${s.id.padEnd(width)}  ${s.kind.kind} -> ${s.kind.output}${s.needs.length ? `  needs ${s.needs.join(", ")}` : ""}`
        )
      ].join("\n")
    }
    case "mermaid":
      return [
        "graph TD",
        ...stages.map((s) => `  ${s.id}["${s.id} (${s.kind.kind})"]`),
        ...stages.flatMap((s) => s.needs.map((n) => `  ${n} --> ${s.id}`))
      ].join("\n")
    case "dot":
      return [
        `digraph ${quote(p.name)} {`,
        "  rankdir=LR;",
        ...stages.map((s) => `  ${quote(s.id)} [label=${quote(`${s.id}\\n${s.kind.kind}`)}];`),
        ...stages.flatMap((s) => s.needs.map((n) => `  ${quote(n)} -> ${quote(s.id)};`)),
        "}"
      ].join("\n")
  }
}

export const dagCommand = Command.make("dag", { file: O.file, format }, (a) =>
  Effect.gen(function* () {
    const loaded = yield* O.load(a.file, [])
    process.stdout.write(`${renderDag(loaded.pipeline, a.format)}\n`)
  }).pipe(Effect.catchAll(renderError(false)))
).pipe(Command.withDescription("Print the stage graph (text, mermaid or dot)"))
