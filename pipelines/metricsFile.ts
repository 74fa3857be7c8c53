/**
 * The figures a stage's program writes to $PIPE_METRICS: one JSON object (`{"accuracy": 0.91}`), or JSON lines,
 * one object per line (per epoch, say), whose last line is the headline and all of whose lines are the series.
 * Values are finite numbers, strings, booleans or null. Pure: text in, figures or a message naming the line out.
 */
import { Either } from "effect"
import type { StageMetrics } from "./kind.js"

export interface StageFigures {
  /** The headline figures: the object, or the last line's. */
  readonly headline: StageMetrics
  /** Every line, in order, when the file was JSON lines (absent for a single object). */
  readonly series?: ReadonlyArray<StageMetrics>
}

const describe = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : typeof v === "string" ? "a string" : String(v)

/** One line's (or the whole file's) object, checked: why it is not one, if it is not. */
const figuresOf = (v: unknown): Either.Either<StageMetrics, string> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return Either.left(`expected a JSON object of figures (e.g. {"accuracy": 0.91}), got ${describe(v)}`)
  }
  for (const [k, x] of Object.entries(v)) {
    if (k === "") return Either.left("a figure has an empty name")
    const ok = x === null || typeof x === "string" || typeof x === "boolean" || (typeof x === "number" && Number.isFinite(x))
    if (!ok) {
      return Either.left(`figure '${k}' is ${describe(x)}; figures are finite numbers, strings, booleans or null`)
    }
  }
  return Either.right(v as StageMetrics)
}

const parse = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (e) {
    const nonFinite = /(^|[^A-Za-z"])(-?Infinity|NaN)\b/.test(text)
    return Either.left(
      nonFinite
        ? "NaN and Infinity are not JSON (Python's json.dumps writes them); write null, or leave the figure out"
        : `not JSON (${(e as Error).message})`
    )
  }
}

/** The figures in a $PIPE_METRICS file's text, or why they cannot be read ("line 3: ..."). */
export const parseMetricsFile = (text: string): Either.Either<StageFigures, string> => {
  if (text.trim() === "") return Either.left("the file is empty; write a JSON object of figures, or JSON lines of them")
  // One JSON value (a pretty-printed object spans lines): a single object.
  const whole = parse(text)
  if (Either.isRight(whole)) {
    return figuresOf(whole.right).pipe(
      Either.map((headline) => ({ headline })),
      Either.mapLeft((m) => (text.trim().includes("\n") ? m : `line 1: ${m}`))
    )
  }
  const lines = text.split("\n")
  const series: Array<StageMetrics> = []
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue
    const figures = Either.flatMap(parse(line), figuresOf)
    if (Either.isLeft(figures)) return Either.left(`line ${i + 1}: ${figures.left}`)
    series.push(figures.right)
  }
  return Either.right({ headline: series.at(-1)!, series })
}
