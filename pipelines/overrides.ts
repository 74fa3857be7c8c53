/** `--set STAGE.PARAM=VALUE`: parsed like a YAML scalar, so `3` is a number and `true` a boolean. */
import { Either } from "effect"
import { parse } from "yaml"
import { UsageError } from "./errors.js"
import { smallInts } from "./yamlValues.js"

export interface Override {
  readonly stage: string
  readonly param: string
  readonly value: unknown
  /** As the user typed it, to name it in errors. */
  readonly text: string
}

export const parseOverride = (text: string): Either.Either<Override, UsageError> => {
  const m = /^([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(text)
  if (!m) {
    return Either.left(
      new UsageError({ message: `--set ${text}: expected STAGE.PARAM=VALUE, e.g. --set train.lr=0.001` })
    )
  }
  let value: unknown
  try {
    value = m[3] === "" ? "" : smallInts(parse(m[3]!, { resolveKnownTags: false, intAsBigInt: true }))
  } catch {
    value = m[3]
  }
  return Either.right({ stage: m[1]!, param: m[2]!, value, text })
}
