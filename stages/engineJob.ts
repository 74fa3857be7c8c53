/** What the train and evaluate kinds hand an engine from their stage context: inputs by slot, the job's common fields, their errors. */
import type { Schema } from "effect"
import { EngineError, settingsOf, type Engine, type JobInput } from "../engines/engine.js"
import { StageError, type StageContext } from "../pipelines/kind.js"

/** The input that fills `slot`, as an engine sees it. */
export const inputOf = (ctx: StageContext<unknown, unknown>, slot: string): JobInput => {
  const input = ctx.inputs.find((i) => i.slot === slot)
  if (!input) throw new StageError({ message: `bug: no ${slot} input` })
  return { stage: input.stage, dir: input.dir, hash: input.hash }
}

/** The fields every job has: where to write, the engine's own settings (checked by its Schema), log, progress, spawn, abort. */
export const jobBase = <F extends Schema.Struct.Fields>(ctx: StageContext<unknown, unknown>, engine: Engine<F>, signal: AbortSignal) => ({
  outDir: ctx.outDir,
  params: settingsOf(engine, ctx.params),
  log: ctx.log,
  progress: ctx.progress,
  spawn: ctx.spawn,
  signal
})

/** A failure as the stage reports it: its own and the engine's messages as they are, anything else with its stack. */
export const asStageError = (what: string) => (e: unknown): StageError =>
  e instanceof StageError
    ? e
    : e instanceof EngineError
      ? new StageError({ message: e.message })
      : new StageError({ message: `${what} failed: ${(e as Error).stack ?? String(e)}` })
