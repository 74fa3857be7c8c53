/** The REF argument of the query commands, and resolving it against the store (a file given is hashed here). */
import { Args } from "@effect/cli"
import { Effect } from "effect"
import { statSync } from "node:fs"
import { hashFile } from "../artifacts/hashFile.js"
import { RefError } from "../cache/errors.js"
import type { Queries, Target } from "../cache/queries.js"
import type { RunInfo } from "../cache/runInfo.js"
import { UsageError } from "../pipelines/errors.js"

export const ref = Args.text({ name: "ref" }).pipe(
  Args.withDescription(
    "An artifact hash or run key (or a unique prefix, 4+ hex digits), a run number (#12), a stage id (its latest run), or a file from an artifact"
  )
)

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile()
  } catch {
    return false
  }
}

/** The content hash of the file a reference names, when it names a file. */
export const fileHashOf = (text: string): string | undefined => (isFile(text) ? hashFile(text) : undefined)

/** What the store needs to resolve `text`: the pipeline stage ids refer to, and the content hash of a file given. */
const refOptions = (text: string, pipeline: string | undefined): { pipeline?: string; fileHash?: string } => {
  const fileHash = fileHashOf(text)
  return { ...(pipeline !== undefined ? { pipeline } : {}), ...(fileHash !== undefined ? { fileHash } : {}) }
}

/** A store call that may refuse what a person typed: its RefError becomes a usage error (exit 2). */
export const asUsage = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => new UsageError({ message: e instanceof RefError ? e.message : String(e) }) })

/** Resolves a reference against the store, turning "not found" into a usage error. */
export const resolveRef = (q: Queries, text: string, pipeline: string | undefined): Effect.Effect<Target, UsageError> =>
  asUsage(() => q.resolve(text, refOptions(text, pipeline)))

/** The run a reference names: a run, or the run that produced the artifact. */
export const runOf = (q: Queries, text: string, pipeline: string | undefined): Effect.Effect<RunInfo, UsageError> =>
  asUsage(() => q.runOf(text, refOptions(text, pipeline)))
