/** The one renderer of expected failures: text for people on stderr, a JSON event for scripts on stdout. */
import { Effect } from "effect"
import type { PipelineInvalid, StoreError, UsageError } from "../pipelines/errors.js"
import { ExitCode, setExitCode } from "./exitCodes.js"

export type CliError = PipelineInvalid | UsageError | StoreError

export const codeOf = (e: CliError): number =>
  e._tag === "StoreError" ? ExitCode.store : ExitCode.invalid

export const errorText = (e: CliError): string => {
  switch (e._tag) {
    case "PipelineInvalid": {
      const lines = e.problems.map((p) => `${p.location}${p.path ? ` ${p.path}` : ""}: ${p.message}`)
      const n = e.problems.length
      return `${lines.join("\n")}\n${e.file}: ${n} problem${n === 1 ? "" : "s"}; nothing ran`
    }
    case "UsageError":
      return `pipe: ${e.message}`
    case "StoreError":
      return `pipe: ${e.message}`
  }
}

export const errorJson = (e: CliError): object => ({
  event: "error",
  code: codeOf(e),
  error: e._tag,
  ...(e._tag === "PipelineInvalid" ? { problems: e.problems } : { message: e.message })
})

/** Renders an expected failure and records its exit code. */
export const renderError = (json: boolean) => (e: CliError) =>
  Effect.sync(() => {
    process.stderr.write(`${errorText(e)}\n`)
    if (json) process.stdout.write(`${JSON.stringify(errorJson(e))}\n`)
    setExitCode(codeOf(e))
  })
