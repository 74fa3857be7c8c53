/**
 * The expected failures of the core, as typed values. `cli/render.ts` is the one place that turns each into
 * text and an exit code; everything else only fails with them.
 */
import { Data } from "effect"

export interface Problem {
  /** "pipeline.yaml:14:7", "--set train.lr=x", or just the file name when no position is known. */
  readonly location: string
  /** "stages.train.params.epochs" */
  readonly path: string
  readonly message: string
}

/** The pipeline file cannot be used: syntax, schema, wiring or cycle problems. Exit code 2. */
export class PipelineInvalid extends Data.TaggedError("PipelineInvalid")<{
  readonly file: string
  readonly problems: ReadonlyArray<Problem>
}> {}

/** The command line asks for something impossible (unknown stage, malformed --set). Exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export { StoreError } from "../cache/errors.js"
