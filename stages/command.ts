/**
 * The `command` kind: runs an argv (no shell) in the workspace. Its output artifact is whatever the command
 * leaves in $PIPE_OUT; it sees each needed stage's output at $PIPE_IN_<ID> and its params as JSON in
 * $PIPE_PARAMS; figures it writes to $PIPE_METRICS are kept with the run. `${params.NAME}` in argv is replaced by the param's value. `deps` name workspace files whose
 * content enters the key, so editing a script reruns the stage that uses it: relative paths that stay inside the
 * workspace (symlinks in it are followed, and their targets' content enters the key).
 */
import { Schema } from "effect"
import { basename, isAbsolute, normalize } from "node:path"
import { defineKind, didYouMean, type StageIssue } from "../pipelines/kind.js"

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
    config.deps?.forEach((dep, i) => {
      const outside = depOutsideWorkspace(dep)
      if (outside) issues.push({ path: ["deps", i], message: outside })
    })
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

/**
 * Why a dep is not a workspace path, if it is not: deps are named relative to the workspace and must stay in it
 * (checked on the text, so a symlink inside the workspace is followed wherever it points).
 */
export const depOutsideWorkspace = (dep: string): string | undefined => {
  const n = normalize(dep)
  const name = basename(n)
  const link = `link it into the workspace (ln -s ${n} ${name === ".." || name === "" ? "NAME" : name}) and name the link`
  if (isAbsolute(dep)) {
    return `'${dep}' is an absolute path; deps are paths inside the workspace, relative to it: to depend on a file elsewhere, ${link}`
  }
  if (n === ".." || n.startsWith("../")) {
    return `'${dep}' leaves the workspace; deps are paths inside the workspace, relative to it: to depend on a file elsewhere, ${link}`
  }
  return undefined
}

/** Replaces `${params.NAME}` in one argument; non-string values are written as JSON. */
export const interpolate = (arg: string, params: Readonly<Record<string, unknown>>): string =>
  arg.replace(PLACEHOLDER, (_, name: string) => {
    const v = params[name]
    return typeof v === "string" ? v : JSON.stringify(v)
  })
