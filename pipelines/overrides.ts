/** `--set STAGE.PARAM=VALUE`: parsed like a YAML scalar, so `3` is a number and `true` a boolean. */
import { Either } from "effect"
import { parseDocument } from "yaml"
import { UsageError } from "./errors.js"
import { nodeProblems, smallInts } from "./yamlValues.js"

export interface Override {
  readonly stage: string
  readonly param: string
  readonly value: unknown
  /** As the user typed it, to name it in errors. */
  readonly text: string
  /** Where it came from, to name it in errors: "--set" (the default) or "sweep value". */
  readonly from?: string
}

/** How an error names an override: `--set train.lr=x`, `sweep value train.lr=0.1`. */
export const describeOverride = (o: Override): string => `${o.from ?? "--set"} ${o.text}`

/** Quotes a word for a POSIX shell. */
const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`

/**
 * A value typed on the command line (--set, sweep grids), read as YAML: `3` is a number, `[1, 2]` a list.
 * Text that is not YAML (`*.txt`, `[1,`) stays text. Right: the value; left: why it cannot be used (a YAML tag
 * such as `!!binary`, which pipe does not resolve, or aliases that nest or expand too far), without the fix.
 */
export const parseValue = (text: string): Either.Either<unknown, string> => {
  if (text === "") return Either.right("")
  // logLevel "error": the YAML library would otherwise print its warnings on stderr itself.
  const doc = parseDocument(text, { resolveKnownTags: false, intAsBigInt: true, logLevel: "error" })
  if (doc.errors.length > 0) return Either.right(text)
  const tag = doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED" || w.code === "BAD_COLLECTION_TYPE")
  if (tag) {
    const name = text.slice(tag.pos[0], tag.pos[1]).trim()
    return Either.left(
      tag.code === "TAG_RESOLVE_FAILED" ? `YAML tags (${name}) are not supported here` : `the YAML tag ${name} does not fit this value`
    )
  }
  if (doc.warnings.length > 0) return Either.right(text)
  const problems = nodeProblems(doc)
  if (problems.some((p) => p.kind === "unresolved")) return Either.right(text)
  if (problems.length > 0) return Either.left(problems[0]!.message)
  return Either.right(smallInts(doc.toJS({ maxAliasCount: -1 })))
}

export const parseOverride = (text: string): Either.Either<Override, UsageError> => {
  const m = /^([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(text)
  if (!m) {
    return Either.left(
      new UsageError({ message: `--set ${text}: expected STAGE.PARAM=VALUE, e.g. --set train.lr=0.001` })
    )
  }
  const [, stage, param, raw] = m as unknown as [string, string, string, string]
  const value = parseValue(raw)
  if (Either.isLeft(value)) {
    const quoted = shellQuote(`${stage}.${param}=${JSON.stringify(raw)}`)
    return Either.left(
      new UsageError({ message: `--set ${text}: ${value.left}; to pass it as text, quote it: --set ${quoted}` })
    )
  }
  return Either.right({ stage, param, value: value.right, text })
}

/**
 * A copy of a stage under another id, with some params changed, that the original then also needs: a rung of a
 * halving search, the shorter training the next rung continues (its `needs` gain the copy before it).
 */
export interface StageCopy {
  readonly id: string
  readonly from: string
  readonly params: Readonly<Record<string, unknown>>
  /** Needs added to the copy's own (the rung before it). */
  readonly needs: ReadonlyArray<string>
}
