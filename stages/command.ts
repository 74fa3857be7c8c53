/**
 * The `command` kind: runs an argv (no shell) in the workspace. Its output artifact is whatever the command
 * leaves in $PIPE_OUT; it sees each needed stage's output at $PIPE_IN_<ID> and its params as JSON in
 * $PIPE_PARAMS. `${params.NAME}` in argv is replaced by the param's value. `deps` name workspace files whose
 * content enters the key, so editing a script reruns the stage that uses it.
 */
import { Schema } from "effect"
import { didYouMean } from "../pipelines/suggest.js"
import { defineKind, type StageIssue } from "./kind.js"

const PLACEHOLDER = /\$\{params\.([A-Za-z_][A-Za-z0-9_]*)\}/g

const NonEmptyString = Schema.String.pipe(Schema.minLength(1, { description: "a non-empty string" }))

const fields = {
  cmd: Schema.Array(NonEmptyString).pipe(
    Schema.minItems(1, { description: "a non-empty list of strings (program and arguments)" })
  ),
  deps: Schema.optionalWith(Schema.Array(NonEmptyString).annotations({ description: "a list of workspace paths" }), {
    exact: true
  })
}

export const commandKind = defineKind({
  kind: "command",
  version: 1,
  description: "Runs a program (argv, no shell) in the workspace; its $PIPE_OUT directory is the output.",
  fields,
  params: Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    description: "a map of parameter names to values"
  }),
  inputs: { inputs: { type: "any", many: true, optional: true } },
  output: "files",
  deps: (config) => config.deps ?? [],
  check: ({ config, params }) => {
    const issues: Array<StageIssue> = []
    config.cmd.forEach((arg, i) => {
      for (const m of arg.matchAll(PLACEHOLDER)) {
        if (!(m[1]! in params)) {
          const known = Object.keys(params)
          issues.push({
            path: ["cmd", i],
            message: `\${params.${m[1]}} names no param${didYouMean(m[1]!, known)}; ${
              known.length ? `params are: ${known.join(", ")}` : "the stage has no params"
            }`
          })
        }
      }
    })
    return issues
  },
  load: () => import("./command.run.js")
})

/** Replaces `${params.NAME}` in one argument; non-string values are written as JSON. */
export const interpolate = (arg: string, params: Readonly<Record<string, unknown>>): string =>
  arg.replace(PLACEHOLDER, (_, name: string) => {
    const v = params[name]
    return typeof v === "string" ? v : JSON.stringify(v)
  })
