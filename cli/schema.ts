/** `pipe schema`: the JSON Schema of pipeline.yaml, for editor validation and completion. */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import { pipelineJsonSchema } from "../pipelines/spec.js"
import { makeRegistry } from "../stages/registry.js"

export const schemaCommand = Command.make("schema", {}, () =>
  Effect.sync(() => process.stdout.write(`${JSON.stringify(pipelineJsonSchema(makeRegistry()), null, 2)}\n`))
).pipe(
  Command.withDescription(
    "Print the JSON Schema of pipeline.yaml (e.g. `pipe schema > pipeline.schema.json`, then point your editor's YAML plugin at it)"
  )
)
